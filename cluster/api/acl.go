package api

import "time"

// Access control. With ACLs on (the agent's --acl-enabled), every request
// but GET /v1/health and POST /v1/acl/bootstrap carries a token's secret in
// HeaderToken; one without it, or with an unknown one, is answered 403
// CodeForbidden. A process, FIFO, queue or segment belongs to the user of
// the token that created it, and only that user or a management token may
// signal, wait on, read the logs of, feed, or see the env of a process.
// A program (ProgramsPath) belongs to the user of the token that added it;
// any token lists, shows and spawns it, and only its owner or a management
// token replaces or removes it.
// Snapshots, the operator routes and the ACL routes take a management
// token; the node-to-node routes (/v1/internal/...) take the agent token
// or a node's certificate.
//
//	POST   /v1/acl/bootstrap                → ACLToken with its SecretID: the first management token, once
//	POST   /v1/acl/tokens                   ACLTokenRequest → ACLToken with its SecretID (management)
//	GET    /v1/acl/tokens                   → ACLTokenList, without secrets (management)
//	GET    /v1/acl/token/self               → the caller's own ACLToken, without its secret
//	DELETE /v1/acl/tokens/{accessor}        delete a token (management)

// HeaderToken carries the secret of the caller's ACL token.
const HeaderToken = "X-Vproc-Token"

// HeaderProxied marks a request a node relays for a client (forwarding to
// the leader, logs and stdin): its own certificate does not make it node
// traffic.
const HeaderProxied = "X-Vproc-Proxied"

// CodeForbidden answers a request its token (or the lack of one) does not
// allow: 403.
const CodeForbidden = "forbidden"

// CodeQuotaExceeded answers a spawn or an IPC create past its user's quota:
// 429.
const CodeQuotaExceeded = "quota_exceeded"

// PolicyManagement is the policy of a management token.
const PolicyManagement = "management"

// ACLToken is an ACL token. SecretID is set only in the answer that
// created it: the cluster keeps only its hash.
type ACLToken struct {
	AccessorID  string    `json:"accessor_id"`
	SecretID    string    `json:"secret_id,omitempty"`
	User        string    `json:"user"`
	Policies    []string  `json:"policies"`
	Description string    `json:"description,omitempty"`
	MaxProcs    int       `json:"max_procs,omitempty"`
	MaxIPC      int       `json:"max_ipc,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	CreateIndex uint64    `json:"create_index"`
}

// ACLTokenRequest asks for a new token for User. Policies may hold
// PolicyManagement; MaxProcs and MaxIPC are the user's quotas of live
// processes and IPC objects (0: unlimited).
type ACLTokenRequest struct {
	User        string   `json:"user"`
	Policies    []string `json:"policies,omitempty"`
	Description string   `json:"description,omitempty"`
	MaxProcs    int      `json:"max_procs,omitempty"`
	MaxIPC      int      `json:"max_ipc,omitempty"`
}

// ACLTokenList is the answer to GET /v1/acl/tokens.
type ACLTokenList struct {
	Tokens []ACLToken `json:"tokens"`
	Index  uint64     `json:"index"`
}
