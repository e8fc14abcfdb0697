//go:build !unix

// tfdemo needs tableflip, which upgrades only on Unix.

package main

func main() {}
