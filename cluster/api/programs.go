package api

// Program is a user program (a WebAssembly module) recorded in the table:
// GET /v1/programs/{name}, and the answer of PUT /v1/programs/{name}.
type Program struct {
	Name      string   `json:"name"`
	Hash      string   `json:"sha256"`
	Size      uint64   `json:"size"`
	Owner     string   `json:"owner,omitempty"`
	Holders   []string `json:"holders"`
	CreatedAt int64    `json:"created_at_unix_ns"`
	Index     uint64   `json:"index"`
}

// ProgramList is the answer of GET /v1/programs.
type ProgramList struct {
	Programs []Program `json:"programs"`
}

// Program routes.
const (
	// ProgramsPath lists programs; ProgramsPath + "/" + name adds (PUT,
	// the module's bytes as the body), shows (GET) or removes (DELETE)
	// one.
	ProgramsPath = "/v1/programs"
	// ProgramBlobsPath + "/" + sha256 serves (GET) or stores (PUT) a
	// module's bytes between nodes.
	ProgramBlobsPath = "/v1/internal/programs"
	// DefaultMaxProgramBytes caps an upload unless the agent is configured
	// otherwise.
	DefaultMaxProgramBytes = 64 << 20
)

// Error codes of the program routes.
const (
	CodeNameTaken      = "name_taken"      // a builtin has that name
	CodeNoSuchProgram  = "no_such_program" // no program has that name
	CodeHashMismatch   = "hash_mismatch"   // bytes that are not the hash they were sent as
	CodeTooFewReplicas = "too_few_replicas"
)
