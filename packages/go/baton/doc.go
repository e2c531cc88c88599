// Package baton is the Go SDK for Baton: a worker runtime that serves task
// types over the TaskService.Dispatch stream, and a small admin client that
// starts runs and waits for them.
//
// A worker registers one typed handler per task type:
//
//	conn, _ := baton.Dial("127.0.0.1:7233")
//	w := baton.NewWorker(conn)
//	baton.Handle(w, "greet", func(ctx context.Context, in GreetInput) (GreetOutput, error) {
//		return GreetOutput{Greeting: "Hello, " + in.Name}, nil
//	}, baton.Concurrency(4))
//	err := w.Run(ctx) // returns after a graceful drain once ctx is cancelled
//
// The runtime grants the server one credit per free concurrency slot, so no
// more tasks are ever in flight than the limit; it extends each task's lease
// while its handler runs, reconnects with capped, jittered exponential backoff
// and keeps retrying results until the server takes them.
package baton
