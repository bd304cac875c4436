// Package builtins holds the programs every vproc node ships: the sh shell,
// the small Unix tools (true, false, echo, cat, yes, sleep, wc, head, env,
// pwd, kill, pause), spin, the fault suite's heartbeat witness, onnode, and
// the IPC tools over FIFOs, message queues and shared memory.
//
// They are user programs, not kernel code: each is a node.Program that
// reaches the kernel only through the exported system calls of node.Sys,
// exactly as a program of one's own does. Install puts them into a
// node.ProgramTable, which a kernel takes as its Config.Programs:
//
//	progs := builtins.Programs()
//	progs.Register("hello", func(s *node.Sys) int { s.Printf("hello\n"); return 0 })
//	cfg := node.DefaultConfig()
//	cfg.Programs = progs
//
// This package imports node; node never imports it.
//
// The shell speaks bash: it parses with mvdan.cc/sh/v3/syntax's bash
// variant and expands words with mvdan.cc/sh/v3/expand; everything else
// (pipelines, redirections, jobs, traps, its own builtins such as cd,
// export, wait, kill and read, and test) is written here on top of the
// system calls, so that pipes, signals, process groups and limits are the
// kernel's. Its files follow those concerns: sh.go (the shell's state and
// options), shvars.go (variables, arrays and locals), shexpand.go,
// shredirect.go (redirections and here-documents), shexec.go (statements
// and pipelines), shcommand.go (simple commands, functions and children),
// shbash.go ([[ ]], (( )), declarations, echo and printf), shprintf.go
// (printf's format), shtrap.go, shjobs.go (jobs, wait and kill), shread.go
// (read and mapfile), shgetopts.go, shbuiltin.go and shcond.go (test and
// [). kill.go is kill(1), shared by the kill program and the
// shell's builtin. The shell's known differences from bash are listed in
// the README, under "The shell".
package builtins
