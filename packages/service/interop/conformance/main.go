// The grpc-go client of the transport conformance suite (packages/service/src/transport/conformance): it runs a
// batch of calls on one channel and prints what it saw, so the Node test can assert the same things for every
// client stack. Raw bytes in and out (a pass-through codec registered as "proto"), so no generated code.
//
// stdin:  {"target": "127.0.0.1:PORT", "keepaliveMs": 0, "maxReceiveBytes": 0, "calls": [call, ...]}
//
//	call: {"method": "/pkg.Service/Method", "kind": "unary|server_streaming|upload_cancel",
//	       "request": "<base64>", "metadata": {"k": "v", "k-bin": "<base64>"}, "timeoutMs": 0,
//	       "compression": "gzip", "cancelAfterMs": 0, "pauseAfterFirstMs": 0, "parallel": 1,
//	       "startAfterMs": 0, "discardBodies": false}
//
// stdout: {"results": [result, ...], "logs": ["grpc-go log line", ...]}
//
//	result: {"code": 0, "message": "", "sizes": [n, ...], "responses": ["<base64>", ...],
//	         "headers": {"k": ["v"]}, "trailers": {...}, "details": "<base64 google.rpc.Status>", "ms": 1.5,
//	         "all": [result, ...] (parallel > 1: every copy)}
//
// Builds in GOPATH mode against Debian's grpc-go 1.33 and newer.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	_ "unsafe" // go:linkname

	"github.com/golang/protobuf/proto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip" // registers the gzip compressor
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// grpc-go raises a keepalive time below 10 s to 10 s; the suite tests keepalive with 1 s pings, as grpc-go's own
// tests do by lowering this variable (it is internal, so it is reached by name).
//
//go:linkname keepaliveMinPingTime google.golang.org/grpc/internal.KeepaliveMinPingTime
var keepaliveMinPingTime time.Duration

type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) {
	if b, ok := v.([]byte); ok {
		return b, nil
	}
	return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
}
func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
	}
	*b = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

type call struct {
	Method            string            `json:"method"`
	Kind              string            `json:"kind"`
	Request           string            `json:"request"`
	Metadata          map[string]string `json:"metadata"`
	TimeoutMs         int               `json:"timeoutMs"`
	Compression       string            `json:"compression"`
	CancelAfterMs     int               `json:"cancelAfterMs"`
	PauseAfterFirstMs int               `json:"pauseAfterFirstMs"`
	Parallel          int               `json:"parallel"`
	StartAfterMs      int               `json:"startAfterMs"`
	DiscardBodies     bool              `json:"discardBodies"`
}

type result struct {
	Code      uint32              `json:"code"`
	Message   string              `json:"message"`
	Sizes     []int               `json:"sizes"`
	Responses []string            `json:"responses"`
	Headers   map[string][]string `json:"headers"`
	Trailers  map[string][]string `json:"trailers"`
	Details   string              `json:"details,omitempty"`
	Ms        float64             `json:"ms"`
	All       []result            `json:"all,omitempty"`
}

type input struct {
	Target          string `json:"target"`
	KeepaliveMs     int    `json:"keepaliveMs"`
	MaxReceiveBytes int    `json:"maxReceiveBytes"`
	Calls           []call `json:"calls"`
}

type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *logSink) add(level string, args ...interface{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+": "+fmt.Sprint(args...))
}
func (l *logSink) Info(args ...interface{})               { l.add("INFO", args...) }
func (l *logSink) Infoln(args ...interface{})             { l.add("INFO", args...) }
func (l *logSink) Infof(f string, args ...interface{})    { l.add("INFO", fmt.Sprintf(f, args...)) }
func (l *logSink) Warning(args ...interface{})            { l.add("WARNING", args...) }
func (l *logSink) Warningln(args ...interface{})          { l.add("WARNING", args...) }
func (l *logSink) Warningf(f string, args ...interface{}) { l.add("WARNING", fmt.Sprintf(f, args...)) }
func (l *logSink) Error(args ...interface{})              { l.add("ERROR", args...) }
func (l *logSink) Errorln(args ...interface{})            { l.add("ERROR", args...) }
func (l *logSink) Errorf(f string, args ...interface{})   { l.add("ERROR", fmt.Sprintf(f, args...)) }
func (l *logSink) Fatal(args ...interface{})              { l.add("FATAL", args...); os.Exit(3) }
func (l *logSink) Fatalln(args ...interface{})            { l.add("FATAL", args...); os.Exit(3) }
func (l *logSink) Fatalf(f string, args ...interface{}) {
	l.add("FATAL", fmt.Sprintf(f, args...))
	os.Exit(3)
}
func (l *logSink) V(level int) bool { return level <= 2 }

// userMetadata keeps the test's own keys (x-…), -bin values base64 again, so every client reports the same map.
func userMetadata(md metadata.MD) map[string][]string {
	out := map[string][]string{}
	for k, vs := range md {
		if !strings.HasPrefix(k, "x-") {
			continue
		}
		for _, v := range vs {
			if strings.HasSuffix(k, "-bin") {
				v = base64.StdEncoding.EncodeToString([]byte(v))
			}
			out[k] = append(out[k], v)
		}
	}
	return out
}

func run(conn *grpc.ClientConn, c call) result {
	if c.StartAfterMs > 0 {
		time.Sleep(time.Duration(c.StartAfterMs) * time.Millisecond)
	}
	req, err := base64.StdEncoding.DecodeString(c.Request)
	if err != nil {
		return result{Code: 99, Message: "bad base64 request: " + err.Error()}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if c.TimeoutMs > 0 {
		ctx, cancel = context.WithTimeout(ctx, time.Duration(c.TimeoutMs)*time.Millisecond)
		defer cancel()
	}
	if c.CancelAfterMs > 0 {
		timer := time.AfterFunc(time.Duration(c.CancelAfterMs)*time.Millisecond, cancel)
		defer timer.Stop()
	}
	md := metadata.MD{}
	for k, v := range c.Metadata {
		if strings.HasSuffix(k, "-bin") {
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return result{Code: 99, Message: "bad base64 metadata: " + err.Error()}
			}
			v = string(b)
		}
		md.Append(k, v)
	}
	ctx = metadata.NewOutgoingContext(ctx, md)
	var opts []grpc.CallOption
	if c.Compression != "" {
		opts = append(opts, grpc.UseCompressor(c.Compression))
	}
	var header, trailer metadata.MD
	start := time.Now()
	var bodies [][]byte
	switch c.Kind {
	case "server_streaming":
		var stream grpc.ClientStream
		stream, err = conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, c.Method, opts...)
		if err == nil {
			err = stream.SendMsg(req)
		}
		if err == nil {
			err = stream.CloseSend()
		}
		for err == nil {
			var out []byte
			err = stream.RecvMsg(&out)
			if err == nil {
				bodies = append(bodies, out)
				if len(bodies) == 1 && c.PauseAfterFirstMs > 0 {
					time.Sleep(time.Duration(c.PauseAfterFirstMs) * time.Millisecond)
				}
			}
		}
		if err == io.EOF {
			err = nil
		}
		if stream != nil {
			header, _ = stream.Header()
			trailer = stream.Trailer()
		}
	case "upload_cancel":
		// A client-streaming call on a unary method: the request is sent but the stream never half-closes, so the
		// call is cancelled (context cancel → RST_STREAM CANCEL) while the server is still receiving.
		var stream grpc.ClientStream
		stream, err = conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true}, c.Method, opts...)
		if err == nil {
			err = stream.SendMsg(req)
		}
		if err == nil {
			var out []byte
			err = stream.RecvMsg(&out)
		}
	default:
		var out []byte
		opts = append(opts, grpc.Header(&header), grpc.Trailer(&trailer))
		err = conn.Invoke(ctx, c.Method, req, &out, opts...)
		if err == nil {
			bodies = append(bodies, out)
		}
	}
	r := result{Ms: float64(time.Since(start).Microseconds()) / 1000, Sizes: []int{}, Responses: []string{}, Headers: userMetadata(header), Trailers: userMetadata(trailer)}
	for _, b := range bodies {
		r.Sizes = append(r.Sizes, len(b))
		if !c.DiscardBodies {
			r.Responses = append(r.Responses, base64.StdEncoding.EncodeToString(b))
		}
	}
	st := status.Convert(err)
	r.Code = uint32(st.Code())
	r.Message = st.Message()
	if p := st.Proto(); len(p.GetDetails()) > 0 {
		if b, err := proto.Marshal(p); err == nil {
			r.Details = base64.StdEncoding.EncodeToString(b)
		}
	}
	return r
}

func main() {
	sink := &logSink{}
	grpclog.SetLoggerV2(sink)
	encoding.RegisterCodec(rawCodec{})

	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Fprintln(os.Stderr, "bad input:", err)
		os.Exit(2)
	}
	dial := []grpc.DialOption{grpc.WithInsecure()}
	if in.KeepaliveMs > 0 {
		keepaliveMinPingTime = time.Duration(in.KeepaliveMs) * time.Millisecond
		dial = append(dial, grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:    time.Duration(in.KeepaliveMs) * time.Millisecond,
			Timeout: 5 * time.Second,
		}))
	}
	if in.MaxReceiveBytes > 0 {
		dial = append(dial, grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(in.MaxReceiveBytes)))
	}
	conn, err := grpc.Dial(in.Target, dial...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		os.Exit(2)
	}
	results := make([]result, len(in.Calls))
	var wg sync.WaitGroup
	// Calls run at once (each waits its startAfterMs), so a batch can hold a slow call and the calls beside it.
	for i, c := range in.Calls {
		wg.Add(1)
		go func(i int, c call) {
			defer wg.Done()
			n := c.Parallel
			if n <= 1 {
				results[i] = run(conn, c)
				return
			}
			all := make([]result, n)
			var inner sync.WaitGroup
			for j := 0; j < n; j++ {
				inner.Add(1)
				go func(j int) { defer inner.Done(); all[j] = run(conn, c) }(j)
			}
			inner.Wait()
			first := all[0]
			first.All = all
			results[i] = first
		}(i, c)
	}
	wg.Wait()
	conn.Close()
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if err := json.NewEncoder(os.Stdout).Encode(map[string]interface{}{"results": results, "logs": sink.lines}); err != nil {
		fmt.Fprintln(os.Stderr, "encode:", err)
		os.Exit(2)
	}
}
