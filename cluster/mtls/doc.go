// Package mtls is vproc's transport security: the certificate authority and
// the certificates `vproc tls` creates, the TLS configurations the agent's
// listeners and dialers use (HTTP API, raft, IPC streams, node reports), and
// the identity a peer's certificate proves.
//
// Names follow Nomad's pattern. Every certificate of a cluster is signed by
// one CA. A server certificate carries the DNS name ServerName
// ("server.vproc"), which every dialer checks in place of the address it
// dialled, and NodeSAN(node) ("<node>.server.vproc"), from which the other
// side reads the node's identity (NodeOf). A client certificate, for the
// CLI and other programs, carries ClientName ("client.vproc") and no node
// identity. With TLS on, every listener requires a certificate from the
// CA: a connection without one, or with one from another CA, fails its
// handshake, and plaintext never reaches a handler.
//
// PeerNode reads the verified node identity from a request's context,
// where the HTTP API's middleware puts it (WithPeerNode): node reports and
// lease renewals are attributed to that node, not to a header.
package mtls
