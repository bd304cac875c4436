// Package wasmtest builds WebAssembly test modules from Go sources at test
// time (GOOS=wasip1 GOARCH=wasm) and keeps one on-disk compilation cache per
// test binary, so that each module is compiled by wazero once per run.
package wasmtest
