package cluster

import (
	"context"
	"os"
	"path/filepath"

	"github.com/vproc/vproc/cluster/programs"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/node"
	"github.com/vproc/vproc/node/wasm"
)

// startPrograms builds the program store (under DataDir/programs, or a
// temporary directory in Dev mode) and the engine that runs its modules,
// with their compiled code cached under DataDir/wasm-cache. Names that base
// resolves (the builtins) cannot be taken by a program.
func (s *serving) startPrograms(base node.Resolver) error {
	dir, cacheDir := "", ""
	if !s.cfg.Dev && s.cfg.DataDir != "" {
		dir = filepath.Join(s.cfg.DataDir, "programs")
		cacheDir = filepath.Join(s.cfg.DataDir, "wasm-cache")
	} else {
		tmp, err := os.MkdirTemp("", "vproc-programs-")
		if err != nil {
			return err
		}
		s.programTmp, dir = tmp, tmp
	}
	if s.cfg.WasmCacheDir != "" {
		cacheDir = s.cfg.WasmCacheDir
	}
	svc, err := programs.New(programs.Config{
		Name:     s.name,
		Dir:      dir,
		MaxBytes: s.cfg.MaxProgramBytes,
		Builtin: func(name string) bool {
			_, ok := base.Lookup(name)
			return ok
		},
		View:   func() *fsm.View { return s.c.localView() },
		Synced: s.client.SyncedView,
		Send: func(ctx context.Context, cmd fsm.Command) (*fsm.Result, error) {
			return s.client.Send(ctx, nil, cmd)
		},
		HTTP:   s.client,
		Logger: s.log,
	})
	if err != nil {
		s.stopPrograms()
		return err
	}
	e, err := wasm.New(wasm.Config{CacheDir: cacheDir, Source: svc})
	if err != nil {
		s.stopPrograms()
		return err
	}
	s.programs, s.wasm = svc, e
	return nil
}

// stopPrograms closes the engine and removes a temporary store.
func (s *serving) stopPrograms() {
	if s.wasm != nil {
		s.wasm.Close()
	}
	if s.programTmp != "" {
		os.RemoveAll(s.programTmp)
		s.programTmp = ""
	}
}
