package fsm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func secretHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func token(acc, user string) ACLToken {
	return ACLToken{Accessor: acc, SecretHash: secretHash("secret-" + acc), User: user}
}

func TestACLBootstrapOnce(t *testing.T) {
	h := newHarness(t)
	if h.f.View().ACLBootstrapped() {
		t.Fatal("a fresh table is bootstrapped")
	}
	h.ok(&ACLBootstrap{Token: token("root-acc", "root"), Now: h.now})
	v := h.f.View()
	if !v.ACLBootstrapped() {
		t.Fatal("not bootstrapped after ACLBootstrap")
	}
	got, ok := v.TokenBySecretHash(secretHash("secret-root-acc"))
	if !ok || !got.Management || got.User != "root" || got.CreateIndex != h.idx {
		t.Fatalf("bootstrap token: got %+v %v, want a management token of root", got, ok)
	}
	wantErr(t, h.apply(&ACLBootstrap{Token: token("again", "root"), Now: h.now}), ErrPermission)
	// The last management token stays.
	wantErr(t, h.apply(&ACLTokenDelete{Accessor: "root-acc"}), ErrPermission)
}

func TestACLTokenCreateDelete(t *testing.T) {
	h := newHarness(t)
	h.ok(&ACLBootstrap{Token: token("m", "root"), Now: h.now})
	h.ok(&ACLTokenCreate{Token: token("a1", "alice"), Now: h.now})
	wantErr(t, h.apply(&ACLTokenCreate{Token: token("a1", "alice"), Now: h.now}), ErrNameExists)
	dupSecret := token("a2", "alice")
	dupSecret.SecretHash = secretHash("secret-a1")
	wantErr(t, h.apply(&ACLTokenCreate{Token: dupSecret, Now: h.now}), ErrNameExists)
	for _, bad := range []ACLToken{
		{Accessor: "", SecretHash: secretHash("x"), User: "bob"},
		{Accessor: "b", SecretHash: "short", User: "bob"},
		{Accessor: "b", SecretHash: secretHash("x"), User: "-bob"},
		{Accessor: "b", SecretHash: secretHash("x"), User: "bo b"},
		{Accessor: "b", SecretHash: secretHash("x"), User: "bob", MaxProcs: -1},
	} {
		wantErr(t, h.apply(&ACLTokenCreate{Token: bad, Now: h.now}), ErrInvalid)
	}
	if n := len(h.f.View().Tokens()); n != 2 {
		t.Fatalf("got %d tokens, want 2", n)
	}
	h.ok(&ACLTokenDelete{Accessor: "a1"})
	if _, ok := h.f.View().TokenBySecretHash(secretHash("secret-a1")); ok {
		t.Fatal("a deleted token still resolves")
	}
	wantErr(t, h.apply(&ACLTokenDelete{Accessor: "a1"}), ErrNoSuchName)
}

func TestQuotaLiveProcesses(t *testing.T) {
	h := newHarness(t)
	h.node("n1")
	q := token("a1", "alice")
	q.MaxProcs = 2
	h.ok(&ACLTokenCreate{Token: q, Now: h.now})
	p1 := h.run(0, sleepSpec(), "n1")
	h.spawn(0, sleepSpec())
	wantErr(t, h.apply(&Spawn{Parent: 0, Owner: "alice", Spec: sleepSpec(), Now: h.now}), ErrQuotaExceeded)
	// Another user is not counted against alice.
	h.ok(&Spawn{Parent: 0, Owner: "bob", Spec: sleepSpec(), Now: h.now})
	// An exited process frees its place.
	h.ok(&Exited{PID: p1, Incarnation: 1, Node: "n1", Status: Status{Exited: true}, Now: h.now})
	h.spawn(0, sleepSpec())
	if got := h.f.View().LiveProcsOf("alice"); got != 2 {
		t.Fatalf("alice has %d live processes, want 2", got)
	}
}

func TestQuotaIPCObjects(t *testing.T) {
	h := newHarness(t)
	h.node("n1")
	q := token("a1", "alice")
	q.MaxIPC = 1
	h.ok(&ACLTokenCreate{Token: q, Now: h.now})
	h.ok(&RegistryCreate{Kind: KindMQ, Name: "/a", Node: "n1", Owner: "alice", Mode: 0o600, Now: h.now})
	wantErr(t, h.apply(&RegistryCreate{Kind: KindMQ, Name: "/b", Node: "n1", Owner: "alice", Mode: 0o600, Now: h.now}), ErrQuotaExceeded)
	h.ok(&RegistryCreate{Kind: KindMQ, Name: "/c", Node: "n1", Owner: "bob", Mode: 0o600, Now: h.now})
	h.ok(&RegistryUnlink{Kind: KindMQ, Name: "/a"})
	h.ok(&RegistryCreate{Kind: KindMQ, Name: "/b", Node: "n1", Owner: "alice", Mode: 0o600, Now: h.now})
}

func TestACLSnapshotRoundTrip(t *testing.T) {
	h := newHarness(t)
	before := h.f.Hash()
	h.ok(&ACLBootstrap{Token: token("m", "root"), Now: h.now})
	if h.f.Hash() == before {
		t.Fatal("the hash does not cover tokens")
	}
	q := token("a1", "alice")
	q.MaxProcs = 3
	h.ok(&ACLTokenCreate{Token: q, Now: h.now})
	h.spawn(0, sleepSpec())
	want := h.f.Hash()
	data := persist(t, h.f.Snapshot())
	f, _ := New(DefaultConfig())
	if err := f.Restore(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if f.Hash() != want {
		t.Fatal("restored hash differs")
	}
	got, ok := f.View().TokenBySecretHash(secretHash("secret-a1"))
	if !ok || got.MaxProcs != 3 || got.User != "alice" {
		t.Fatalf("restored token: got %+v %v", got, ok)
	}
	if n := f.View().LiveProcsOf("alice"); n != 1 {
		t.Fatalf("restored owner index: alice has %d, want 1", n)
	}
	// The snapshot holds no secret.
	if bytes.Contains(data, []byte("secret-a1")) {
		t.Fatal("a snapshot holds a token's secret")
	}
}

func TestACLCodecRoundTrip(t *testing.T) {
	tok := token("a1", "alice")
	tok.Description = "ci"
	tok.MaxIPC = 4
	for _, c := range []Command{
		&ACLBootstrap{Token: tok, Now: t0},
		&ACLTokenCreate{Token: tok, Now: t0},
		&ACLTokenDelete{Accessor: "a1"},
	} {
		got, err := Decode(Encode(c))
		if err != nil {
			t.Fatalf("%v: %v", c.Type(), err)
		}
		if !bytes.Equal(Encode(got), Encode(c)) {
			t.Fatalf("%v: round trip changed the command: %+v", c.Type(), got)
		}
	}
}

func TestACLKillFromProcessChecksOwners(t *testing.T) {
	h := newHarness(t)
	h.node("n1")
	alice := h.run(0, sleepSpec(), "n1") // owned by alice (the harness's owner)
	bob := h.ok(&Spawn{Parent: 0, Owner: "bob", Spec: sleepSpec(), Now: h.now}).PID
	// Before ACLs, as before.
	h.ok(&Signal{ID: 1, Target: int64(bob), Signal: 15, Sender: alice, Now: h.now})
	h.ok(&ACLBootstrap{Token: token("m", "root"), Now: h.now})
	wantErr(t, h.apply(&Signal{ID: 2, Target: int64(bob), Signal: 15, Sender: alice, Now: h.now}), ErrPermission)
	h.ok(&Signal{ID: 3, Target: int64(alice), Signal: 0, Sender: alice, Now: h.now})
}
