// The test app (image switchyard-test-app, built by scripts/provision.sh): answers GET / and
// GET /health with "<COLOR> <VERSION> <hostname>", and any other path with 404.
//
// It replaced busybox httpd, whose listen queue is fixed at 9 connections and which forks per
// connection: a stall of about 20 ms at 500 connections a second filled that queue, the kernel
// dropped SYNs, and requests waited 1 s (3 s after a second drop) — failures of the test app, not of
// the traffic path under test. Go's listen queue is the kernel's somaxconn (4096).
//
// It still closes the connection after every answer, as busybox httpd did: each proxied request is
// a new connection through docker-proxy, the harder case for the proxies (no idle connection to
// reuse, a gone app seen as an accepted-then-closed connection).
package main

import (
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func main() {
	host, _ := os.Hostname()
	body := []byte(fmt.Sprintf("%s %s %s\n", env("COLOR", "none"), env("VERSION", "1"), host))
	// One handler, no ServeMux patterns: the same answers whichever Go builds it.
	answer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/", "/index.html", "/health":
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write(body)
		default:
			http.NotFound(w, r)
		}
	})
	server := &http.Server{
		Addr:              ":" + env("PORT", "8080"),
		Handler:           answer,
		ReadHeaderTimeout: 10 * time.Second,
	}
	server.SetKeepAlivesEnabled(false)

	// As PID 1 it gets no default signal actions: stop at once on TERM or INT, as the old app did.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		os.Exit(0)
	}()
	if err := server.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "test app:", err)
		os.Exit(1)
	}
}
