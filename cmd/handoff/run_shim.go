package main

// shimCommand is the hidden first argument with which `handoff run`
// re-executes its own binary as the start of each child: the shim sets
// LISTEN_PID to its own pid and execs PROGRAM in place, keeping that pid,
// as the sd_listen_fds contract wants and os/exec cannot arrange.
const shimCommand = "__handoff-run-exec"
