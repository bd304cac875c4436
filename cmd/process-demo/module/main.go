// Command module is the WebAssembly program of process-demo: built for
// wasip1 when the demo runs, it reads lines on standard input and writes
// them in upper case, with its PID's view of the world on standard error.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

func main() {
	fmt.Fprintf(os.Stderr, "module %s: args %q, cwd %s\n", os.Args[0], os.Args[1:], os.Getenv("PWD"))
	sc := bufio.NewScanner(os.Stdin)
	n := 0
	for sc.Scan() {
		n++
		fmt.Println(strings.ToUpper(sc.Text()))
	}
	fmt.Fprintf(os.Stderr, "module: %d lines\n", n)
}
