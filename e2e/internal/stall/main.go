// Command stall stands in for a deploy that hangs: it starts and never
// becomes ready, so the upgrade that started it must time out.
package main

import "time"

func main() { time.Sleep(10 * time.Minute) }
