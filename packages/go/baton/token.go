package baton

import (
	"context"
	"os"

	"google.golang.org/grpc"
)

// WithToken sends an API key with every call, as the server expects it
// (`authorization: Bearer <key>`). Pass it to Dial:
//
//	conn, err := baton.Dial(addr, baton.WithToken(os.Getenv("BATON_TOKEN")))
//
// An empty token sends nothing, so the same code runs against an open dev server.
func WithToken(token string) grpc.DialOption {
	return grpc.WithPerRPCCredentials(bearer(token))
}

// WithEnvToken is WithToken with the key from BATON_TOKEN.
func WithEnvToken() grpc.DialOption {
	return WithToken(os.Getenv("BATON_TOKEN"))
}

type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	if b == "" {
		return nil, nil
	}
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// The key may travel over plaintext on loopback; use TLS credentials anywhere else.
func (bearer) RequireTransportSecurity() bool { return false }
