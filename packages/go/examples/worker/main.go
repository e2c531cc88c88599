// Command worker serves the go_greet task type against a Baton server at
// $BATON_ADDRESS (default 127.0.0.1:7233). Ctrl-C drains and exits.
package main

import (
	"context"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/batonhq/baton/packages/go/baton"
)

type GreetInput struct {
	Name string `json:"name"`
}

type GreetOutput struct {
	Greeting string `json:"greeting"`
}

func main() {
	address := os.Getenv("BATON_ADDRESS")
	if address == "" {
		address = "127.0.0.1:7233"
	}
	conn, err := baton.Dial(address)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	worker := baton.NewWorker(conn)
	baton.Handle(worker, "go_greet", func(ctx context.Context, in GreetInput) (GreetOutput, error) {
		return GreetOutput{Greeting: "Hello, " + in.Name + " from Go"}, nil
	}, baton.Concurrency(4))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	slog.Info("serving go_greet", "address", address, "worker_id", worker.ID())
	if err := worker.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
