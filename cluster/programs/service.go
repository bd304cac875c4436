package programs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/httpapi"
	"github.com/vproc/vproc/fsm"
)

// Config configures a Service.
type Config struct {
	// Name is this node's name in the table.
	Name string
	// Dir is the store's directory.
	Dir string
	// MaxBytes caps an upload (api.DefaultMaxProgramBytes when 0).
	MaxBytes int64
	// Replicas is how many nodes must hold an upload before it is
	// acknowledged (2 when 0; all nodes on a smaller cluster).
	Replicas int
	// Builtin reports whether a name belongs to a builtin: such a name is
	// refused.
	Builtin func(name string) bool
	// View returns this node's view of the table.
	View func() *fsm.View
	// Synced returns this node's view once it has applied everything the
	// leader had committed when it was called: the owner checks of a
	// replace or remove read it. Nil means View.
	Synced func(ctx context.Context) (*fsm.View, error)
	// Send commits a command through the leader.
	Send func(ctx context.Context, cmd fsm.Command) (*fsm.Result, error)
	// HTTP talks to the other nodes: it must present this node's
	// credentials (the agent token or the node's certificate) where ACLs
	// or TLS are on, as httpapi.Client does. Nil means a plain client.
	HTTP Doer
	// Logger logs fetches and pushes that failed.
	Logger *slog.Logger
}

// Doer sends a request to another node.
type Doer interface {
	Do(req *http.Request) (*http.Response, error)
}

// peerTimeout bounds one fetch from or push to another node.
const peerTimeout = 2 * time.Minute

// DefaultConfig returns the defaults: 64 MiB uploads, two replicas.
func DefaultConfig() Config {
	return Config{MaxBytes: api.DefaultMaxProgramBytes, Replicas: 2}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Name == "":
		return errors.New("programs: a node name is needed")
	case c.Dir == "":
		return errors.New("programs: a directory is needed")
	case c.View == nil || c.Send == nil:
		return errors.New("programs: a view and a way to commit are needed")
	case c.MaxBytes < 0 || c.Replicas < 0:
		return errors.New("programs: negative limits")
	}
	return nil
}

// Service is one node's program store and its HTTP routes.
type Service struct {
	cfg   Config // immutable
	store *Store // immutable
	hc    Doer
	log   *slog.Logger
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = api.DefaultMaxProgramBytes
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 2
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, err := NewStore(cfg.Dir)
	if err != nil {
		return nil, err
	}
	hc := cfg.HTTP
	if hc == nil {
		hc = &http.Client{}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, store: st, hc: hc, log: log}, nil
}

// Store returns the service's store.
func (s *Service) Store() *Store { return s.store }

// Lookup returns the hash of the program called name (wasm.Source).
func (s *Service) Lookup(name string) (string, bool) {
	p, ok := s.cfg.View().Program(name)
	return p.Hash, ok
}

// Bytes returns the bytes of hash (wasm.Source): from this node's store,
// or fetched from a holder, checked, stored, and this node recorded as a
// holder.
func (s *Service) Bytes(ctx context.Context, hash string) ([]byte, error) {
	bin, err := s.store.Get(hash)
	if err == nil || !errors.Is(err, ErrNotHeld) && !errors.Is(err, ErrCorrupt) {
		return bin, err
	}
	p, ok := s.cfg.View().ProgramByHash(hash)
	if !ok {
		return nil, fmt.Errorf("%w, and no program of the table has it", err)
	}
	var errs []error
	for _, h := range p.Holders {
		if h == s.cfg.Name {
			continue
		}
		bin, ferr := s.fetch(ctx, h, hash)
		if ferr != nil {
			errs = append(errs, fmt.Errorf("from %s: %w", h, ferr))
			continue
		}
		if _, perr := s.store.Put(bin); perr != nil {
			return nil, perr
		}
		if _, serr := s.cfg.Send(ctx, &fsm.ProgramHolder{Hash: hash, Node: s.cfg.Name}); serr != nil {
			s.log.Warn("recording this node as a program holder", "hash", hash[:12], "err", serr)
		}
		return bin, nil
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("%w, and no other node holds it", err)
	}
	return nil, fmt.Errorf("fetching program %.12s: %w", hash, errors.Join(errs...))
}

// nodeURL returns the base URL of node name.
func (s *Service) nodeURL(name string) (string, error) {
	for _, n := range s.cfg.View().Nodes() {
		if n.ID == name || n.Name == name {
			u, err := httpapi.BaseURL(n.HTTPAddr)
			if err != nil {
				return "", err
			}
			return u.String(), nil
		}
	}
	return "", fmt.Errorf("no node %q in the table", name)
}

// fetch gets the bytes of hash from node and checks them.
func (s *Service) fetch(ctx context.Context, node, hash string) ([]byte, error) {
	base, err := s.nodeURL(node)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, peerTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+api.ProgramBlobsPath+"/"+hash, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set(api.HeaderNode, s.cfg.Name)
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, answerError(resp)
	}
	bin, err := io.ReadAll(io.LimitReader(resp.Body, s.cfg.MaxBytes+1))
	if err != nil {
		return nil, err
	}
	if Hash(bin) != hash {
		return nil, fmt.Errorf("%w: %.12s from %s", ErrCorrupt, hash, node)
	}
	return bin, nil
}

// answerError describes another node's refusal.
func answerError(resp *http.Response) error {
	var ae api.Error
	if json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&ae) == nil && ae.Message != "" {
		return fmt.Errorf("status %s: %s", resp.Status, ae.Message)
	}
	return fmt.Errorf("status %s", resp.Status)
}

// push stores bin on node.
func (s *Service) push(ctx context.Context, node, hash string, bin []byte) error {
	base, err := s.nodeURL(node)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, peerTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+api.ProgramBlobsPath+"/"+hash, bytes.NewReader(bin))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/wasm")
	req.Header.Set(api.HeaderNode, s.cfg.Name)
	resp, err := s.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return answerError(resp)
	}
	io.Copy(io.Discard, resp.Body)
	return nil
}

// Add stores bin as program name, on enough nodes, and commits its record.
func (s *Service) Add(ctx context.Context, name, owner string, bin []byte) (fsm.Program, error) {
	if s.cfg.Builtin != nil && s.cfg.Builtin(name) {
		return fsm.Program{}, &api.Error{Code: api.CodeNameTaken, Message: fmt.Sprintf("%q is a builtin", name)}
	}
	hash, err := s.store.Put(bin)
	if err != nil {
		return fsm.Program{}, err
	}
	holders := []string{s.cfg.Name}
	var others []string
	for _, n := range s.cfg.View().Nodes() {
		if n.ID != s.cfg.Name && n.Status == fsm.NodeAlive {
			others = append(others, n.ID)
		}
	}
	sort.Strings(others)
	want := min(s.cfg.Replicas, 1+len(others))
	var errs []error
	for _, n := range others {
		if len(holders) >= want {
			break
		}
		if err := s.push(ctx, n, hash, bin); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
			continue
		}
		holders = append(holders, n)
	}
	if len(holders) < want {
		return fsm.Program{}, &api.Error{Code: api.CodeTooFewReplicas,
			Message: fmt.Sprintf("%d of %d nodes hold the program: %v", len(holders), want, errors.Join(errs...))}
	}
	res, err := s.cfg.Send(ctx, &fsm.ProgramAdd{Name: name, Hash: hash, Size: uint64(len(bin)), Owner: owner, Holders: holders, Now: time.Now().UnixNano()})
	if err != nil {
		return fsm.Program{}, err
	}
	if res.Err != nil {
		return fsm.Program{}, res.Err
	}
	return fsm.Program{Name: name, Hash: hash, Size: uint64(len(bin)), Owner: owner, Holders: holders, CreateIndex: res.Index, ModifyIndex: res.Index}, nil
}

// Remove removes program name's record; its bytes stay in the stores, and
// processes running it go on.
func (s *Service) Remove(ctx context.Context, name string) error {
	res, err := s.cfg.Send(ctx, &fsm.ProgramRemove{Name: name})
	if err != nil {
		return err
	}
	if errors.Is(res.Err, fsm.ErrNoSuchName) {
		return &api.Error{Code: api.CodeNoSuchProgram, Message: fmt.Sprintf("no program %q", name)}
	}
	return res.Err
}

// Handler serves the program routes (api.ProgramsPath, api.ProgramBlobsPath).
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.ProgramsPath, s.handleList)
	mux.HandleFunc("GET "+api.ProgramsPath+"/{name}", s.handleShow)
	mux.HandleFunc("PUT "+api.ProgramsPath+"/{name}", s.handleAdd)
	mux.HandleFunc("DELETE "+api.ProgramsPath+"/{name}", s.handleRemove)
	mux.HandleFunc("GET "+api.ProgramBlobsPath+"/{hash}", s.handleBlobGet)
	mux.HandleFunc("PUT "+api.ProgramBlobsPath+"/{hash}", s.handleBlobPut)
	return mux
}

func toAPI(p fsm.Program) api.Program {
	h := p.Holders
	if h == nil {
		h = []string{}
	}
	return api.Program{Name: p.Name, Hash: p.Hash, Size: p.Size, Owner: p.Owner, Holders: h, CreatedAt: p.CreatedAt, Index: p.ModifyIndex}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// fail answers err with its status and code.
func fail(w http.ResponseWriter, err error) {
	var ae *api.Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		status := http.StatusConflict
		switch ae.Code {
		case api.CodeNoSuchProgram:
			status = http.StatusNotFound
		case api.CodeTooFewReplicas:
			status = http.StatusServiceUnavailable
		case api.CodeBadRequest:
			status = http.StatusBadRequest
		case api.CodeForbidden:
			status = http.StatusForbidden
		}
		writeJSON(w, status, ae)
	case errors.As(err, &mbe):
		writeJSON(w, http.StatusRequestEntityTooLarge, api.Error{Code: api.CodeTooLarge, Message: fmt.Sprintf("program larger than %d bytes", mbe.Limit)})
	case errors.Is(err, fsm.ErrInvalid), errors.Is(err, ErrBadHash):
		writeJSON(w, http.StatusBadRequest, api.Error{Code: api.CodeBadRequest, Message: err.Error()})
	case errors.Is(err, ErrCorrupt):
		writeJSON(w, http.StatusBadRequest, api.Error{Code: api.CodeHashMismatch, Message: err.Error()})
	case errors.Is(err, ErrNotHeld):
		writeJSON(w, http.StatusNotFound, api.Error{Code: api.CodeNotFound, Message: err.Error()})
	default:
		writeJSON(w, http.StatusServiceUnavailable, api.Error{Code: api.CodeUnavailable, Message: err.Error()})
	}
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request) {
	ps := s.cfg.View().Programs()
	out := api.ProgramList{Programs: make([]api.Program, 0, len(ps))}
	for _, p := range ps {
		out.Programs = append(out.Programs, toAPI(p))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Service) handleShow(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	p, ok := s.cfg.View().Program(name)
	if !ok {
		fail(w, &api.Error{Code: api.CodeNoSuchProgram, Message: fmt.Sprintf("no program %q", name)})
		return
	}
	writeJSON(w, http.StatusOK, toAPI(p))
}

// mayChange refuses r's change to program name when it exists and r's
// caller is neither its owner nor privileged (httpapi.MayManage).
func (s *Service) mayChange(r *http.Request, name string) error {
	if httpapi.CallerOf(r).Privileged {
		return nil
	}
	v := s.cfg.View()
	if s.cfg.Synced != nil {
		var err error
		if v, err = s.cfg.Synced(r.Context()); err != nil {
			return err
		}
	}
	p, ok := v.Program(name)
	if !ok {
		return nil
	}
	return httpapi.MayManage(r, fmt.Sprintf("program %q", name), p.Owner)
}

// handleAdd stores an upload. Its owner is the user of the request's
// token with ACLs on (a request cannot name another), and replacing a
// program takes its owner or a management token.
func (s *Service) handleAdd(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	owner, err := httpapi.OwnerFor(r, strings.TrimSpace(r.URL.Query().Get("owner")))
	if err != nil {
		fail(w, err)
		return
	}
	if err := s.mayChange(r, name); err != nil {
		fail(w, err)
		return
	}
	bin, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBytes))
	if err != nil {
		fail(w, err)
		return
	}
	if len(bin) == 0 {
		fail(w, &api.Error{Code: api.CodeBadRequest, Message: "empty program"})
		return
	}
	if want := r.URL.Query().Get("sha256"); want != "" && want != Hash(bin) {
		fail(w, fmt.Errorf("%w: upload is %.12s, not %.12s", ErrCorrupt, Hash(bin), want))
		return
	}
	p, err := s.Add(r.Context(), name, owner, bin)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, toAPI(p))
}

// handleRemove removes a program: it takes its owner or a management
// token.
func (s *Service) handleRemove(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := s.mayChange(r, name); err != nil {
		fail(w, err)
		return
	}
	if err := s.Remove(r.Context(), name); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Service) handleBlobGet(w http.ResponseWriter, r *http.Request) {
	bin, err := s.store.Get(r.PathValue("hash"))
	if err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/wasm")
	w.Write(bin)
}

func (s *Service) handleBlobPut(w http.ResponseWriter, r *http.Request) {
	hash := r.PathValue("hash")
	bin, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBytes))
	if err != nil {
		fail(w, err)
		return
	}
	if Hash(bin) != hash {
		fail(w, fmt.Errorf("%w: %.12s", ErrCorrupt, hash))
		return
	}
	if _, err := s.store.Put(bin); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}
