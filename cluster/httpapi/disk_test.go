package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/commit"
)

// fullCore is a core whose disk is full.
type fullCore struct{ stubCore }

func (fullCore) DiskError() error {
	return errors.New("ENOSPC on /var/lib/vproc: write raft.db: no space left on device")
}

func TestDiskFullIsReported(t *testing.T) {
	s, err := New(Config{
		Core: fullCore{}, Node: stubNode{}, Logs: stubLogs{}, Client: NewClient(stubCore{}),
		Logger: slog.New(slog.DiscardHandler), IPCStream: func(http.ResponseWriter, *http.Request) {},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.client.Close()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	defer s.Drain()

	resp, err := http.Get(srv.URL + "/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var h api.Health
	_ = json.Unmarshal(b, &h)
	if resp.StatusCode != http.StatusInsufficientStorage || h.OK || !strings.HasPrefix(h.Disk, "ENOSPC on /var/lib/vproc") {
		t.Fatalf("health with a full disk: got %d %s, want 507 naming ENOSPC on the data dir", resp.StatusCode, b)
	}

	for _, tc := range []struct {
		err  error
		code string
	}{
		{commit.ErrNoLeader, api.CodeNoSpace},
		{commit.ErrNotLeader, api.CodeNoSpace},
		{errors.New("raft: failed to store logs"), api.CodeNoSpace},
		{commit.ErrUnknownOutcome, api.CodeUnknownOutcome},
	} {
		w := httptest.NewRecorder()
		s.fail(w, httptest.NewRequest("POST", "/v1/spawn", nil), tc.err)
		var e api.Error
		_ = json.Unmarshal(w.Body.Bytes(), &e)
		if e.Code != tc.code || !strings.Contains(e.Message, "ENOSPC on /var/lib/vproc") {
			t.Errorf("a request failing with %v on a full disk: got %d %+v, want %s naming the disk", tc.err, w.Code, e, tc.code)
		}
	}
}
