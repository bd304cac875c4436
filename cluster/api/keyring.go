package api

// KeyringRequest is the body of POST (install), PUT (use) and DELETE
// (remove) /v1/operator/keyring: a base64 gossip key.
type KeyringRequest struct {
	Key string `json:"key"`
}

// KeyringNode is one node's answer to a keyring operation: its keyring
// after it (base64 keys, the primary one apart), or the error it met.
type KeyringNode struct {
	Node    string   `json:"node"`
	Primary string   `json:"primary,omitempty"`
	Keys    []string `json:"keys,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// KeyringResponse answers every /v1/operator/keyring call: one entry per
// node the operation reached, sorted by node.
type KeyringResponse struct {
	Nodes []KeyringNode `json:"nodes"`
}
