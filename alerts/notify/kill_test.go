package notify

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
)

// The child half of TestKill9: a notifier on the store in IOCD_TEST_DIR
// notifies seq 1..IOCD_TEST_N of one alert to the webhook at
// IOCD_TEST_HOOK, then waits to be killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("IOCD_TEST_KILL_CHILD"); dir != "" {
		killChild(dir, os.Getenv("IOCD_TEST_HOOK"))
		return
	}
	os.Exit(m.Run())
}

func killChild(dir, hook string) {
	st, err := openStoreAt(dir)
	if err != nil {
		os.Exit(3)
	}
	n := New(Config{Webhooks: []Webhook{{Name: "ops", URL: hook, Secret: "k", Default: true}}}, Deps{Outbox: st})
	n.Start()
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for seq := 1; seq <= 3; seq++ {
		n.Notify(transition("k9", seq, defs.ChangeEscalated, defs.SeverityCritical, now.Add(time.Duration(seq)*time.Second)), defs.AlertRule{})
	}
	select {} // until SIGKILL
}

// TestKill9: iocd's notifier is killed with SIGKILL while the webhook holds
// seq 2 unanswered (seq 1 delivered, seq 3 queued behind it). A notifier
// started on the same store then sends seq 2 and seq 3 once each, with the
// same delivery ids and bodies, and not seq 1.
func TestKill9(t *testing.T) {
	dir := t.TempDir()
	// The first run's requests for seq 2 never get an answer.
	rv := newReceiver(t, func(r *http.Request, rc received) int {
		if rc.delivery == "k9-2" && r.Header.Get("X-Test-Run") == "" {
			<-r.Context().Done()
		}
		return http.StatusOK
	})
	st := openStore(t, dir) // migrated before the child opens it
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "IOCD_TEST_KILL_CHILD="+dir, "IOCD_TEST_HOOK="+rv.srv.URL)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	testrig.WaitFor(t, "the child's seq 1 delivered and seq 2 in flight", wait, func() bool {
		return rv.count("k9-1") == 1 && rv.count("k9-2") == 1
	})
	// seq 1 is marked done right after its 2xx; wait for the mark so the
	// kill lands where this test means it to.
	testrig.WaitFor(t, "seq 1 marked done", wait, func() bool {
		p, _ := st.PendingAlertDeliveries(context.Background(), 10)
		return len(p) == 2
	})
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited

	b := New(Config{Webhooks: []Webhook{{Name: "ops", URL: rv.srv.URL, Secret: "k", Default: true}}},
		Deps{Outbox: st, Transport: headerTransport{"X-Test-Run", "2"}})
	b.Start()
	t.Cleanup(func() { b.Close() })
	testrig.WaitFor(t, "seq 3 after the restart", wait, func() bool { return rv.count("k9-3") == 1 })
	b.Notify(transition("k9", 4, defs.ChangeResolved, defs.SeverityCritical, time.Now()), defs.AlertRule{})
	testrig.WaitFor(t, "the barrier", wait, func() bool { return rv.count("k9-4") == 1 })
	for seq, want := range map[int]int{1: 1, 2: 2, 3: 1, 4: 1} {
		if got := rv.count("k9-" + strconv.Itoa(seq)); got != want {
			t.Errorf("k9-%d sent %d times, want %d", seq, got, want)
		}
	}
	var bodies []string
	for _, r := range rv.all() {
		if r.delivery == "k9-2" {
			bodies = append(bodies, string(r.body))
			if !Verify([]byte("k"), r.body, r.signature) {
				t.Errorf("k9-2 signature does not verify")
			}
		}
	}
	if len(bodies) == 2 && bodies[0] != bodies[1] {
		t.Errorf("k9-2 resent with a different body:\n%s\n%s", bodies[0], bodies[1])
	}
}
