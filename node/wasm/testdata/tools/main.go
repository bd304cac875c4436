// Command tools is a multi-call test module: what it does depends on the
// name it was run as (argv[0]), as busybox does.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
)

var sink int

func main() {
	name := path.Base(os.Args[0])
	args := os.Args[1:]
	switch name {
	case "echoenv":
		// Print the arguments, then the variables named by VARS, then exit
		// with the code in EXIT.
		fmt.Println(strings.Join(args, "|"))
		for _, k := range strings.Split(os.Getenv("VARS"), ",") {
			if k != "" {
				fmt.Printf("%s=%s\n", k, os.Getenv(k))
			}
		}
		fmt.Fprintln(os.Stderr, "to stderr")
		code, _ := strconv.Atoi(os.Getenv("EXIT"))
		os.Exit(code)
	case "wcwasm":
		lines, words, bytes := 0, 0, 0
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines++
			words += len(strings.Fields(sc.Text()))
			bytes += len(sc.Bytes()) + 1
		}
		fmt.Printf("%d %d %d\n", lines, words, bytes)
	case "catwasm":
		buf := make([]byte, 64<<10)
		if len(args) == 0 {
			copyAll(os.Stdout, os.Stdin, buf)
			return
		}
		for _, a := range args {
			f, err := os.Open(a)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			copyAll(os.Stdout, f, buf)
			f.Close()
		}
	case "writefile":
		// writefile PATH TEXT: create PATH with TEXT, read it back, list
		// its directory.
		if err := os.WriteFile(args[0], []byte(args[1]), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		b, err := os.ReadFile(args[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("read %q\n", b)
		ents, err := os.ReadDir(path.Dir(args[0]))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for _, e := range ents {
			fmt.Println(e.Name())
		}
		if wd, err := os.Getwd(); err == nil {
			fmt.Println("cwd", wd)
		}
	case "fifowrite":
		// fifowrite PATH TEXT: open the FIFO for writing and write TEXT.
		f, err := os.OpenFile(args[0], os.O_WRONLY, 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Fprintln(f, args[1])
		f.Close()
	case "readblock":
		// Block in a read of stdin, or of the file named.
		in := os.Stdin
		if len(args) > 0 {
			f, err := os.Open(args[0])
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			in = f
		}
		fmt.Println("reading")
		io.ReadAll(in)
	case "spinwasm":
		// Loop without a host call.
		fmt.Println("spinning")
		for i := 0; ; i++ {
			sink += i
		}
	case "growwasm":
		// Allocate MiB by MiB, forever.
		var keep [][]byte
		for i := 1; ; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			keep = append(keep, b)
			if i%16 == 0 {
				fmt.Println("MiB", i)
			}
		}
	case "sleeper":
		d, _ := time.ParseDuration(args[0])
		t0 := time.Now()
		time.Sleep(d)
		fmt.Println("slept", time.Since(t0) >= d)
	default:
		fmt.Fprintf(os.Stderr, "tools: unknown name %q\n", name)
		os.Exit(2)
	}
}

func copyAll(w io.Writer, r io.Reader, buf []byte) {
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				os.Exit(1)
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
