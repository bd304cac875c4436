package spec

import "github.com/vproc/vproc/ipc"

// ParseSignal parses a signal as ipc.ParseSignal does: a name ("TERM",
// "SIGTERM", in any case) or a number from 1 to 31.
func ParseSignal(s string) (ipc.Signal, error) {
	sig, err := ipc.ParseSignal(s)
	if err != nil {
		return 0, syntaxError(ErrBadSignal, s, "want a name such as TERM or SIGTERM, or a number from 1 to 31")
	}
	return sig, nil
}

// FormatSignal returns the signal's canonical name, such as "SIGTERM".
func FormatSignal(sig ipc.Signal) string { return sig.String() }
