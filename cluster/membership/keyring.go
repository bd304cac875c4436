package membership

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/hashicorp/memberlist"
	"github.com/vproc/vproc/internal/atomicfile"
)

// Gossip encryption. With keys (Config.Keys), memberlist encrypts every
// gossip message with the primary key (AES-GCM) and takes messages under
// any key of its keyring; GossipVerifyIncoming and GossipVerifyOutgoing
// are on, so a member that does not know a key of the ring is refused and
// nothing leaves in the clear. The keyring is local to each node, as in
// serf: rotation installs a new key everywhere, makes it primary
// everywhere, then removes the old one everywhere, and the agent fans each
// step out to every member (package httpapi, keyring_endpoint.go). A
// keyring file in the data directory keeps the ring across restarts.

// Errors of the keyring.
var (
	// ErrNoEncryption: gossip runs without a keyring, so there is none to
	// change.
	ErrNoEncryption = errors.New("gossip encryption is not enabled")
	// ErrBadKey: a key is not the base64 of 16, 24 or 32 bytes.
	ErrBadKey = errors.New("bad gossip key")
	// ErrPrimaryKey: the primary key cannot be removed.
	ErrPrimaryKey = errors.New("the primary gossip key cannot be removed")
	// ErrUnknownKey: the key is not in the keyring.
	ErrUnknownKey = errors.New("the key is not in the keyring")
)

// KeyringFile is the name of the keyring file in the data directory.
const KeyringFile = "keyring.json"

// GenerateKey returns a new 32-byte gossip key, base64-encoded (vproc
// keygen).
func GenerateKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// DecodeKey decodes a base64 gossip key of 16, 24 or 32 bytes.
func DecodeKey(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64: %v", ErrBadKey, err)
	}
	if err := memberlist.ValidateKey(b); err != nil {
		return nil, fmt.Errorf("%w: %d bytes, want 16, 24 or 32", ErrBadKey, len(b))
	}
	return b, nil
}

// keyringFile is the keyring file's content.
type keyringFile struct {
	Primary string   `json:"primary"`
	Keys    []string `json:"keys"`
}

// LoadKeyring reads a keyring file: its keys, the primary first. A missing
// file is (nil, nil).
func LoadKeyring(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var f keyringFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("keyring file %s: %w", path, err)
	}
	primary, err := DecodeKey(f.Primary)
	if err != nil {
		return nil, fmt.Errorf("keyring file %s: primary: %w", path, err)
	}
	keys := [][]byte{primary}
	for _, k := range f.Keys {
		b, err := DecodeKey(k)
		if err != nil {
			return nil, fmt.Errorf("keyring file %s: %w", path, err)
		}
		if !bytes.Equal(b, primary) {
			keys = append(keys, b)
		}
	}
	return keys, nil
}

// saveKeyring writes the keys, the primary first, to path atomically
// (a temporary file renamed over it), readable by the owner only.
func saveKeyring(path string, keys [][]byte) error {
	if len(keys) == 0 {
		return nil
	}
	f := keyringFile{Primary: base64.StdEncoding.EncodeToString(keys[0])}
	for _, k := range keys {
		f.Keys = append(f.Keys, base64.StdEncoding.EncodeToString(k))
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, append(b, '\n'))
}

// keyring wraps memberlist's keyring with its file.
type keyring struct {
	ring *memberlist.Keyring // nil: no encryption
	path string              // "": not persisted

	mu sync.Mutex // serialises changes with their writes to path
}

// Encrypted reports whether gossip is encrypted.
func (g *Gossip) Encrypted() bool { return g.keys.ring != nil }

// Keys returns the keyring's keys, base64, and the primary one.
func (g *Gossip) Keys() (primary string, keys []string, err error) {
	if g.keys.ring == nil {
		return "", nil, ErrNoEncryption
	}
	for _, k := range g.keys.ring.GetKeys() {
		keys = append(keys, base64.StdEncoding.EncodeToString(k))
	}
	return base64.StdEncoding.EncodeToString(g.keys.ring.GetPrimaryKey()), keys, nil
}

// InstallKey adds a key to the keyring, for decryption only until UseKey.
func (g *Gossip) InstallKey(key string) error {
	return g.changeKeys(key, func(r *memberlist.Keyring, k []byte) error { return r.AddKey(k) })
}

// UseKey makes an installed key the primary key, which encrypts.
func (g *Gossip) UseKey(key string) error {
	return g.changeKeys(key, func(r *memberlist.Keyring, k []byte) error {
		if !hasKey(r, k) {
			return ErrUnknownKey
		}
		return r.UseKey(k)
	})
}

// RemoveKey removes a key other than the primary from the keyring; a key
// that is not in it is already removed.
func (g *Gossip) RemoveKey(key string) error {
	return g.changeKeys(key, func(r *memberlist.Keyring, k []byte) error {
		if bytes.Equal(r.GetPrimaryKey(), k) {
			return ErrPrimaryKey
		}
		return r.RemoveKey(k) // a key not in the ring: nothing to do
	})
}

func hasKey(r *memberlist.Keyring, k []byte) bool {
	for _, have := range r.GetKeys() {
		if bytes.Equal(have, k) {
			return true
		}
	}
	return false
}

func (g *Gossip) changeKeys(key string, op func(*memberlist.Keyring, []byte) error) error {
	if g.keys.ring == nil {
		return ErrNoEncryption
	}
	k, err := DecodeKey(key)
	if err != nil {
		return err
	}
	g.keys.mu.Lock()
	defer g.keys.mu.Unlock()
	if err := op(g.keys.ring, k); err != nil {
		return err
	}
	if g.keys.path == "" {
		return nil
	}
	keys := [][]byte{g.keys.ring.GetPrimaryKey()}
	for _, have := range g.keys.ring.GetKeys() {
		if !bytes.Equal(have, keys[0]) {
			keys = append(keys, have)
		}
	}
	if err := saveKeyring(g.keys.path, keys); err != nil {
		return fmt.Errorf("saving the keyring: %w", err)
	}
	return nil
}
