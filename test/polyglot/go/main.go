// Command polyglot-worker is the Go side of test/polyglot: it serves the Go
// steps of the cross-language flow and the benchmark's no-op task against the
// server at $BATON_ADDRESS. Each step decodes its input into typed Go values
// (a *big.Int counter, an int64, numbers in the payload as json.Number), does
// something native with them and sends them on, so the test sees whether the
// data survived the trip through Go.
//
// Environment: BATON_ADDRESS (required), POLY_WORKER_ID (default go-<pid>),
// POLY_CONCURRENCY (the no-op task's concurrency, default 32),
// POLY_EXIT_WITH_PARENT=1 (exit when stdin closes: the parent, holding its
// other end, is gone, even if it was SIGKILLed and could not stop us).
// It prints one JSON line per event on stdout: {"event":"ready"} once its
// handlers are registered, {"event":"hang","taskId":...} when a step was told
// to hang on this worker (the fault test kills it then).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/batonhq/baton/packages/go/baton"
)

type stepInput struct {
	Payload    map[string]any `json:"payload"`
	Counter    *big.Int       `json:"counter"`
	Exact      int64          `json:"exact"`
	Trail      []string       `json:"trail"`
	HangWorker string         `json:"hangWorker"`
	DelayMs    int64          `json:"delayMs"`
}

type stepOutput struct {
	Payload map[string]any `json:"payload"`
	Counter *big.Int       `json:"counter"`
	Exact   int64          `json:"exact"`
	Trail   []string       `json:"trail"`
	By      string         `json:"by"`
	Seen    map[string]any `json:"seen"`
}

var stdout sync.Mutex

func emit(event map[string]any) {
	line, _ := json.Marshal(event)
	stdout.Lock()
	defer stdout.Unlock()
	fmt.Println(string(line))
}

// dig follows keys into nested objects; nil when a key is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func step(workerID string) func(ctx context.Context, in stepInput) (stepOutput, error) {
	return func(ctx context.Context, in stepInput) (stepOutput, error) {
		if in.HangWorker != "" && in.HangWorker == workerID {
			task, _ := baton.TaskFromContext(ctx)
			emit(map[string]any{"event": "hang", "taskId": task.ID})
			<-ctx.Done() // until the lease is lost (or the process is killed)
			return stepOutput{}, context.Cause(ctx)
		}
		if in.DelayMs > 0 {
			select {
			case <-time.After(time.Duration(in.DelayMs) * time.Millisecond):
			case <-ctx.Done():
				return stepOutput{}, context.Cause(ctx)
			}
		}
		if in.Counter == nil {
			return stepOutput{}, baton.Terminalf("counter is missing")
		}
		music, _ := dig(in.Payload, "unicode", "music").(string)
		seen := map[string]any{
			"lang":       "go",
			"codePoints": utf8.RuneCountInString(music),
		}
		// Numbers in the payload arrive as json.Number: their exact text.
		if n, ok := dig(in.Payload, "numbers", "negative").(json.Number); ok {
			neg, ok := new(big.Int).SetString(n.String(), 10)
			if ok {
				seen["negativeMinusOne"] = new(big.Int).Sub(neg, big.NewInt(1))
			}
		}
		if n, ok := dig(in.Payload, "numbers", "huge").(json.Number); ok {
			if f, err := n.Float64(); err == nil {
				seen["hugeAsDouble"] = f
			}
		}
		return stepOutput{
			Payload: in.Payload,
			Counter: new(big.Int).Add(in.Counter, big.NewInt(1)),
			Exact:   in.Exact,
			Trail:   append(in.Trail, "go 🐹"),
			By:      workerID,
			Seen:    seen,
		}, nil
	}
}

type noopOutput struct {
	ReceivedAtMs float64 `json:"receivedAtMs"`
}

func noop(ctx context.Context, _ map[string]any) (noopOutput, error) {
	return noopOutput{ReceivedAtMs: float64(time.Now().UnixMicro()) / 1000}, nil
}

func main() {
	if os.Getenv("POLY_EXIT_WITH_PARENT") == "1" {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			os.Exit(3)
		}()
	}
	address := os.Getenv("BATON_ADDRESS")
	if address == "" {
		log.Fatal("BATON_ADDRESS is not set")
	}
	workerID := os.Getenv("POLY_WORKER_ID")
	if workerID == "" {
		workerID = fmt.Sprintf("go-%d", os.Getpid())
	}
	concurrency := 32
	if v := os.Getenv("POLY_CONCURRENCY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			log.Fatalf("POLY_CONCURRENCY=%q: want a positive integer", v)
		}
		concurrency = n
	}

	conn, err := baton.Dial(address)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	worker := baton.NewWorker(conn, baton.WithWorkerID(workerID), baton.WithLogger(logger),
		baton.WithBackoff(50*time.Millisecond, time.Second))
	baton.Handle(worker, "poly_go_step", step(workerID), baton.Concurrency(4))
	baton.Handle(worker, "poly_go_branch", step(workerID), baton.Concurrency(4))
	baton.Handle(worker, "poly_go_slow", step(workerID), baton.Concurrency(4))
	baton.Handle(worker, "bench_noop_go", noop, baton.Concurrency(concurrency))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	emit(map[string]any{"event": "ready", "workerId": workerID})
	if err := worker.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
