package wasmtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	mu       sync.Mutex
	built    = make(map[string][]byte) // guarded by mu: module bytes by source directory
	outDir   string                    // guarded by mu: where built modules and the cache live
	cacheDir string                    // guarded by mu
)

// GoTool returns the go command, or "" when there is none.
func GoTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	// A test binary runs where it was built: the root of the toolchain
	// that built it is the one to ask when go is not on PATH.
	//lint:ignore SA1019 see above
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// workDir returns the test binary's scratch directory. Callers hold mu.
func workDirLocked(tb testing.TB) string {
	if outDir == "" {
		d, err := os.MkdirTemp("", "vproc-wasmtest-")
		if err != nil {
			tb.Fatalf("wasmtest: %v", err)
		}
		outDir = d
	}
	return outDir
}

// Build compiles the Go main package in srcDir for wasip1 and returns the
// module's bytes. A test binary builds each directory once. Without a Go
// toolchain the test is skipped.
func Build(tb testing.TB, srcDir string) []byte {
	tb.Helper()
	goTool := GoTool()
	if goTool == "" {
		tb.Skip("wasmtest: no go toolchain to build wasip1 test modules (go not in PATH nor in GOROOT/bin)")
	}
	abs, err := filepath.Abs(srcDir)
	if err != nil {
		tb.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if b, ok := built[abs]; ok {
		return b
	}
	out := filepath.Join(workDirLocked(tb), filepath.Base(abs)+".wasm")
	cmd := exec.Command(goTool, "build", "-o", out, ".")
	cmd.Dir = abs
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("wasmtest: building %s for wasip1: %v\n%s", srcDir, err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	built[abs] = b
	return b
}

// CacheDir returns the test binary's on-disk compilation cache directory.
func CacheDir(tb testing.TB) string {
	mu.Lock()
	defer mu.Unlock()
	if cacheDir == "" {
		cacheDir = filepath.Join(workDirLocked(tb), "cache")
		if err := os.MkdirAll(cacheDir, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	return cacheDir
}

// Cleanup removes the test binary's scratch directory; TestMain calls it
// after the tests ran.
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	if outDir != "" {
		os.RemoveAll(outDir)
	}
	outDir, cacheDir = "", ""
	built = make(map[string][]byte)
}
