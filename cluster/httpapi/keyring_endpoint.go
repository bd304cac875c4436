package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/mtls"
)

// Keyring is this node's gossip keyring (package membership's Gossip).
type Keyring interface {
	Keys() (primary string, keys []string, err error)
	InstallKey(key string) error
	UseKey(key string) error
	RemoveKey(key string) error
}

// The gossip keyring routes: GET (list), POST (install), PUT (use) and
// DELETE (remove) /v1/operator/keyring. memberlist's keyring is local to
// each node, so the node that takes the request fans it out to every alive
// member, itself included, with ?local=true, and answers each node's
// outcome, as serf's key manager does over its own protocol. With TLS on,
// a local operation takes a node's certificate: only the fan-out of
// another node, or of this one, reaches it.

// keyringFanoutTimeout bounds the whole fan-out of one operation.
const keyringFanoutTimeout = 15 * time.Second

func (s *Server) keyringRoutes(mux *http.ServeMux) {
	if s.keyring == nil {
		return
	}
	h := s.wrap(s.handleKeyring)
	mux.Handle("/v1/operator/keyring", methods{
		http.MethodGet: h, http.MethodPost: h, http.MethodPut: h, http.MethodDelete: h,
	})
}

func (s *Server) handleKeyring(w http.ResponseWriter, r *http.Request) (any, error) {
	var req api.KeyringRequest
	if r.Method != http.MethodGet {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4096))
		if err != nil {
			return nil, badRequest("reading the request: %v", err)
		}
		if err := json.Unmarshal(body, &req); err != nil || req.Key == "" {
			return nil, badRequest("a keyring change takes a JSON body with a base64 key")
		}
	}
	if r.URL.Query().Get("local") == "true" {
		if _, ok := mtls.PeerNode(r.Context()); s.nodeAuth && !ok {
			return nil, &httpError{http.StatusForbidden, "permission", "a node's own keyring takes a node's certificate"}
		}
		return api.KeyringResponse{Nodes: []api.KeyringNode{s.localKeyring(r.Method, req.Key)}}, nil
	}
	return s.fanoutKeyring(r.Context(), r.Method, req), nil
}

// localKeyring applies the operation to this node's keyring.
func (s *Server) localKeyring(method, key string) api.KeyringNode {
	var err error
	switch method {
	case http.MethodPost:
		err = s.keyring.InstallKey(key)
	case http.MethodPut:
		err = s.keyring.UseKey(key)
	case http.MethodDelete:
		err = s.keyring.RemoveKey(key)
	}
	out := api.KeyringNode{Node: s.name}
	if err == nil {
		out.Primary, out.Keys, err = s.keyring.Keys()
	}
	if err != nil {
		out.Error = err.Error()
	}
	return out
}

// fanoutKeyring applies the operation on every alive member.
func (s *Server) fanoutKeyring(ctx context.Context, method string, req api.KeyringRequest) api.KeyringResponse {
	ctx, cancel := context.WithTimeout(ctx, keyringFanoutTimeout)
	defer cancel()
	targets := map[string]string{}
	for _, n := range s.core.Nodes(nil) {
		if n.Status == "alive" && n.Name != s.name && n.HTTPAddr != "" {
			targets[n.Name] = n.HTTPAddr
		}
	}
	out := api.KeyringResponse{Nodes: []api.KeyringNode{s.localKeyring(method, req.Key)}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, addr := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kn, err := s.remoteKeyring(ctx, addr, method, req)
			if err != nil {
				kn = api.KeyringNode{Node: name, Error: err.Error()}
			}
			kn.Node = name
			mu.Lock()
			out.Nodes = append(out.Nodes, kn)
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Slice(out.Nodes, func(i, j int) bool { return out.Nodes[i].Node < out.Nodes[j].Node })
	return out
}

// remoteKeyring applies the operation to another node's keyring.
func (s *Server) remoteKeyring(ctx context.Context, addr, method string, req api.KeyringRequest) (api.KeyringNode, error) {
	base, err := BaseURL(addr)
	if err != nil {
		return api.KeyringNode{}, err
	}
	var body io.Reader
	if method != http.MethodGet {
		b, _ := json.Marshal(req)
		body = bytes.NewReader(b)
	}
	hr, err := http.NewRequestWithContext(ctx, method, base.String()+"/v1/operator/keyring?local=true", body)
	if err != nil {
		return api.KeyringNode{}, err
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(hr)
	if err != nil {
		return api.KeyringNode{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return api.KeyringNode{}, err
	}
	if resp.StatusCode != http.StatusOK {
		var e api.Error
		if json.Unmarshal(data, &e) == nil && e.Message != "" {
			return api.KeyringNode{}, errors.New(e.Message)
		}
		return api.KeyringNode{}, fmt.Errorf("status %d", resp.StatusCode)
	}
	var kr api.KeyringResponse
	if err := json.Unmarshal(data, &kr); err != nil || len(kr.Nodes) != 1 {
		return api.KeyringNode{}, fmt.Errorf("bad answer from %s", addr)
	}
	return kr.Nodes[0], nil
}
