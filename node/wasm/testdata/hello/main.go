// Command hello prints a greeting: the smallest Go module, for start-up
// benchmarks.
package main

import "os"

func main() { os.Stdout.WriteString("hello, world\n") }
