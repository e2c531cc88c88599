package baton

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// WithToken sends an API key with every call, as the server expects it
// (`authorization: Bearer <key>`). Pass it to Dial:
//
//	conn, err := baton.Dial(addr, baton.WithToken(os.Getenv("BATON_TOKEN")))
//
// An empty token sends nothing, so the same code runs against an open dev server.
// Over a plaintext connection the key is sent to loopback only (localhost,
// 127.0.0.0/8, ::1): to any other host a call fails, saying so, unless
// BATON_ALLOW_PLAINTEXT_TOKEN=1 (a network that encrypts for you). Use TLS
// credentials anywhere else.
func WithToken(token string) grpc.DialOption {
	return grpc.WithPerRPCCredentials(bearer(token))
}

// WithEnvToken is WithToken with the key from BATON_TOKEN.
func WithEnvToken() grpc.DialOption {
	return WithToken(os.Getenv("BATON_TOKEN"))
}

type bearer string

func (b bearer) GetRequestMetadata(ctx context.Context, uri ...string) (map[string]string, error) {
	if b == "" {
		return nil, nil
	}
	if info, ok := credentials.RequestInfoFromContext(ctx); ok && credentials.CheckSecurityLevel(info.AuthInfo, credentials.PrivacyAndIntegrity) != nil {
		if host := hostOf(uri); !isLoopbackHost(host) && !plaintextTokenAllowed() {
			return nil, fmt.Errorf("refusing to send an API key in plaintext to %s (not a loopback address): dial with TLS credentials, or set BATON_ALLOW_PLAINTEXT_TOKEN=1 on a network that encrypts for you", host)
		}
	}
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// Plaintext is checked per call above (loopback may go without TLS), so gRPC's own all-or-nothing check stays off.
func (bearer) RequireTransportSecurity() bool { return false }

// hostOf is the host of the call's audience URI ("https://host:port/service").
func hostOf(uri []string) string {
	if len(uri) == 0 {
		return ""
	}
	u, err := url.Parse(uri[0])
	if err != nil {
		return ""
	}
	return u.Hostname()
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func plaintextTokenAllowed() bool {
	switch strings.ToLower(os.Getenv("BATON_ALLOW_PLAINTEXT_TOKEN")) {
	case "1", "true", "yes":
		return true
	}
	return false
}
