package baton

import (
	"time"

	"google.golang.org/grpc"
	grpcbackoff "google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
)

// Dial opens a client connection to a Baton server at address
// ("host:port"), in plaintext unless opts say otherwise. It caps gRPC's own
// reconnect backoff at 10s (gRPC's default is 2 minutes), so a worker is back
// soon after a server restart. Later opts override these defaults.
func Dial(address string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	defaults := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: grpcbackoff.Config{
				BaseDelay:  250 * time.Millisecond,
				Multiplier: 1.6,
				Jitter:     0.2,
				MaxDelay:   10 * time.Second,
			},
			MinConnectTimeout: 5 * time.Second,
		}),
	}
	return grpc.NewClient(address, append(defaults, opts...)...)
}
