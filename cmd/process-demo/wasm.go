package main

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/vproc/vproc/node/wasm"
)

//go:embed module/main.go
var moduleSource []byte

// demoSource is the wasm.Source of the demo: one module, built at start.
type demoSource struct {
	name, hash string
	bin        []byte
}

func (s *demoSource) Lookup(name string) (string, bool) {
	return s.hash, name == s.name
}

func (s *demoSource) Bytes(context.Context, string) ([]byte, error) { return s.bin, nil }

// buildModule compiles the demo's module for wasip1 with the Go toolchain.
// Without one it returns an error that the demo prints instead of the
// module's section.
func buildModule() ([]byte, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		// `go run ./cmd/process-demo` runs where it was built: the root
		// of the toolchain that built it is the one to ask when go is
		// not on PATH.
		//lint:ignore SA1019 see above
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goTool); err != nil {
			return nil, fmt.Errorf("no go toolchain to build the module")
		}
	}
	dir, err := os.MkdirTemp("", "vproc-demo-module-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module upper\n\ngo 1.21\n"), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), moduleSource, 0o644); err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "upper.wasm")
	cmd := exec.Command(goTool, "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build for wasip1: %v: %s", err, msg)
	}
	return os.ReadFile(out)
}

// newDemoEngine builds the module and returns an engine that runs it as
// the program "upper".
func newDemoEngine() (*wasm.Engine, error) {
	bin, err := buildModule()
	if err != nil {
		return nil, err
	}
	return wasm.New(wasm.Config{Source: &demoSource{name: "upper", hash: wasm.Hash(bin), bin: bin}})
}

// module runs the WebAssembly program in a pipeline with builtins, like
// any other program: a PID, pipes, a wait status.
func (d *demo) module() error {
	section("8. A WebAssembly (WASI) module as a process")
	if d.wasmErr != nil {
		fmt.Printf("  (skipped: %v)\n", d.wasmErr)
		return nil
	}
	return d.sh("yes vproc runs wasm | head -n 3 | upper one two")
}
