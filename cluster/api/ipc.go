package api

// Named IPC objects: FIFOs, message queues and shared-memory segments.
//
//	GET    /v1/ipc/{kind}        the registry of one kind (mq, fifo, shm): an IPCList
//	POST   /v1/mq                create a queue (MQCreateRequest) on the answering node or on Node
//	DELETE /v1/mq?name=/q        unlink a queue, wherever it lives
//	POST   /v1/mq/send           send one message (MQSendRequest)
//	POST   /v1/mq/recv           receive one message (MQRecvRequest): an MQMessage
//	POST   /v1/fifo              make a FIFO (FIFOCreateRequest)
//	DELETE /v1/fifo?path=/run/f  remove a FIFO
//	DELETE /v1/shm?name=/s       unlink a segment
//
// Errors of these routes carry the errno's name as their code (EEXIST,
// ENOENT, EAGAIN, ETIMEDOUT, ENOLINK for an object whose node is lost, …).

// IPCObject is a registry entry.
type IPCObject struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Node    string `json:"node"`
	Owner   string `json:"owner"`
	Mode    uint32 `json:"mode"`
	MaxMsg  int64  `json:"maxmsg,omitempty"`
	MsgSize int64  `json:"msgsize,omitempty"`
	Size    int64  `json:"size,omitempty"`
	// Lost is set once the node that held the object is lost: the object
	// is gone with it, and the name stays taken until it is unlinked.
	Lost bool `json:"lost"`
}

// IPCList is the answer of GET /v1/ipc/{kind}.
type IPCList struct {
	Index   uint64      `json:"index"`
	Objects []IPCObject `json:"objects"`
}

// MQCreateRequest creates a queue. Zero MaxMsg and MsgSize mean the
// defaults (10 and 8192); Mode 0 means 0600.
type MQCreateRequest struct {
	Name    string `json:"name"`
	Node    string `json:"node,omitempty"`
	Mode    uint32 `json:"mode,omitempty"`
	MaxMsg  int64  `json:"maxmsg,omitempty"`
	MsgSize int64  `json:"msgsize,omitempty"`
	Owner   string `json:"owner,omitempty"`
}

// MQSendRequest sends one message. Timeout bounds a blocking send ("" for
// none, then the request's own deadline applies); NonBlock fails at once
// with EAGAIN when the queue is full.
type MQSendRequest struct {
	Name     string `json:"name"`
	Message  []byte `json:"message"`
	Priority uint   `json:"priority"`
	NonBlock bool   `json:"nonblock,omitempty"`
	Timeout  string `json:"timeout,omitempty"`
}

// MQRecvRequest receives one message, with MQSendRequest's blocking rules.
type MQRecvRequest struct {
	Name     string `json:"name"`
	NonBlock bool   `json:"nonblock,omitempty"`
	Timeout  string `json:"timeout,omitempty"`
}

// MQMessage is a received message.
type MQMessage struct {
	Message  []byte `json:"message"`
	Priority uint   `json:"priority"`
}

// FIFOCreateRequest makes a FIFO at Path (absolute) on the answering node or
// on Node. Mode 0 means 0644.
type FIFOCreateRequest struct {
	Path  string `json:"path"`
	Node  string `json:"node,omitempty"`
	Mode  uint32 `json:"mode,omitempty"`
	Owner string `json:"owner,omitempty"`
}
