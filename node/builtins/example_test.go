package builtins_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vproc/vproc/node"
	"github.com/vproc/vproc/node/builtins"
)

// Embedding the kernel: install the builtins, add a Go program of one's
// own, and run both from the shell.
func Example() {
	progs := builtins.Programs() // sh, echo, cat, yes, head, wc, sleep, ...
	progs.Register("greet", func(s *node.Sys) int {
		s.Printf("hello, %s\n", strings.Join(s.Args(), " "))
		return 0
	})

	cfg := node.DefaultConfig() // in-memory namespace
	cfg.Programs = progs
	k, err := node.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	defer k.Shutdown(ctx)

	var out bytes.Buffer // any io.Writer; calls are serialised per process
	pid, err := k.Spawn(node.Spec{Command: "sh", Args: []string{"-c", "greet world; yes | head -n 3 | wc -l"}, Stdout: &out})
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := k.Wait(ctx, pid) // reaps it: the library acts for init
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(out.String())
	fmt.Println(p.Status)
	// Output:
	// hello, world
	// 3
	// exit status 0
}
