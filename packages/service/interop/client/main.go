// A grpc-go client that dials the connector service the way FlytePropeller's connector plugin does
// (insecure, dns:/// target, round_robin, keepalive without PermitWithoutStream) and sends raw request
// bytes, so no generated flyteidl2 Go code is needed: the Node test encodes requests and decodes responses.
//
// stdin: {"target": "dns:///127.0.0.1:PORT", "keepaliveSec": 10, "serviceConfig": "<json>", "calls": [call, ...]}
//
//	call: {"method": "/pkg.Service/Method", "request": "<base64>", "timeoutMs": 10000, "stream": false,
//	       "sleepBeforeMs": 0, "parallel": 1, "contentSubtype": "", "metadata": {"k": "v"},
//	       "bidi": false, "requests": ["<base64>", ...], "closeSendFirst": true}
//
//	bidi: a bidirectional stream (Flyte 1's ExecuteTaskSync): sends every `requests` message, then either
//	half-closes and reads every answer (closeSendFirst, as current propellers do) or reads one answer first and
//	then half-closes (as the older `agent` plugin does).
//
// stdout: {"results": [result, ...], "states": ["READY", ...], "logs": ["grpc-go log line", ...]}
//
//	result: {"code": <grpc code>, "message": "...", "responses": ["<base64>", ...], "ms": <duration>,
//	         "all": [result, ...] (parallel > 1 only: every copy; the top-level fields are the first copy's)}
//
// With the argument -serve it stays up for many calls (the TestClient of src/testing/go-client.ts): the first stdin
// line is the input without "calls"; then each line is {"id": N, "call": call} (run concurrently) or
// {"id": N, "cancel": true} (cancels call N's context, as a propeller whose context ends does), and each answer is
// one stdout line {"id": N, "result": result}. Closing stdin closes the channel and exits. A call's "metadataValues"
// carries every value of each key, "binMetadata" base64 values of "-bin" keys; a result carries the server's
// trailers ("trailers", "-bin" values base64).
//
// Builds against grpc-go 1.33 (Debian bookworm) and newer: it uses grpc.WithInsecure(), which later
// releases keep (deprecated) beside credentials/insecure.
package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// rawCodec passes []byte through. Registered under the name "proto" it replaces grpc-go's default codec,
// so calls carry content-type "application/grpc" exactly as generated-code clients send.
type rawCodec struct{ name string }

func (c rawCodec) Marshal(v interface{}) ([]byte, error) {
	switch b := v.(type) {
	case []byte:
		return b, nil
	case *[]byte:
		return *b, nil
	}
	return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
}

func (c rawCodec) Unmarshal(data []byte, v interface{}) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
	}
	*b = append([]byte(nil), data...)
	return nil
}

func (c rawCodec) Name() string { return c.name }

type call struct {
	Method         string            `json:"method"`
	Request        string            `json:"request"`
	TimeoutMs      int               `json:"timeoutMs"`
	Stream         bool              `json:"stream"`
	SleepBeforeMs  int               `json:"sleepBeforeMs"`
	Parallel       int               `json:"parallel"`
	ContentSubtype string            `json:"contentSubtype"`
	Metadata       map[string]string `json:"metadata"`
	Bidi           bool              `json:"bidi"`
	Requests       []string          `json:"requests"`
	CloseSendFirst bool              `json:"closeSendFirst"`
	// MetadataValues: more metadata, every value of each key; BinMetadata: "-bin" keys with base64 values (grpc-go
	// base64-encodes them again on the wire).
	MetadataValues map[string][]string `json:"metadataValues"`
	BinMetadata    map[string][]string `json:"binMetadata"`
}

type result struct {
	Code      uint32   `json:"code"`
	Message   string   `json:"message"`
	Responses []string `json:"responses"`
	Ms        float64  `json:"ms"`
	All       []result `json:"all,omitempty"`
	// Trailers: the server's trailers; "-bin" values base64-encoded so that JSON carries them intact.
	Trailers map[string][]string `json:"trailers,omitempty"`
}

type input struct {
	Target       string `json:"target"`
	KeepaliveSec int    `json:"keepaliveSec"`
	// ServiceConfig replaces the default service config (round_robin only), e.g. with Flyte's, which adds retries.
	ServiceConfig string `json:"serviceConfig"`
	Calls         []call `json:"calls"`
}

// logSink collects grpc-go's own log lines (GOAWAY, keepalive, transport errors) for the test to inspect.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *logSink) add(level string, args ...interface{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+": "+fmt.Sprint(args...))
}
func (l *logSink) addf(level, format string, args ...interface{}) {
	l.add(level, fmt.Sprintf(format, args...))
}
func (l *logSink) Info(args ...interface{})               { l.add("INFO", args...) }
func (l *logSink) Infoln(args ...interface{})             { l.add("INFO", args...) }
func (l *logSink) Infof(f string, args ...interface{})    { l.addf("INFO", f, args...) }
func (l *logSink) Warning(args ...interface{})            { l.add("WARNING", args...) }
func (l *logSink) Warningln(args ...interface{})          { l.add("WARNING", args...) }
func (l *logSink) Warningf(f string, args ...interface{}) { l.addf("WARNING", f, args...) }
func (l *logSink) Error(args ...interface{})              { l.add("ERROR", args...) }
func (l *logSink) Errorln(args ...interface{})            { l.add("ERROR", args...) }
func (l *logSink) Errorf(f string, args ...interface{})   { l.addf("ERROR", f, args...) }
func (l *logSink) Fatal(args ...interface{})              { l.add("FATAL", args...); os.Exit(3) }
func (l *logSink) Fatalln(args ...interface{})            { l.add("FATAL", args...); os.Exit(3) }
func (l *logSink) Fatalf(f string, args ...interface{})   { l.addf("FATAL", f, args...); os.Exit(3) }
func (l *logSink) V(level int) bool                       { return level <= 2 }
func (l *logSink) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string{}, l.lines...)
}

func run(ctx context.Context, conn *grpc.ClientConn, c call) result {
	if c.SleepBeforeMs > 0 {
		time.Sleep(time.Duration(c.SleepBeforeMs) * time.Millisecond)
	}
	req, err := base64.StdEncoding.DecodeString(c.Request)
	if err != nil {
		return result{Code: 99, Message: "bad base64 request: " + err.Error()}
	}
	if c.TimeoutMs > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(c.TimeoutMs)*time.Millisecond)
		defer cancel()
	}
	if len(c.Metadata) > 0 || len(c.MetadataValues) > 0 || len(c.BinMetadata) > 0 {
		md := metadata.New(c.Metadata)
		for key, values := range c.MetadataValues {
			md.Append(key, values...)
		}
		for key, values := range c.BinMetadata {
			for _, value := range values {
				raw, err := base64.StdEncoding.DecodeString(value)
				if err != nil {
					return result{Code: 99, Message: "bad base64 metadata " + key + ": " + err.Error()}
				}
				md.Append(key, string(raw))
			}
		}
		ctx = metadata.NewOutgoingContext(ctx, md)
	}
	var trailers metadata.MD
	var opts []grpc.CallOption
	if c.ContentSubtype != "" {
		opts = append(opts, grpc.ForceCodec(rawCodec{name: c.ContentSubtype}))
	}
	start := time.Now()
	var responses []string
	if c.Bidi {
		responses, trailers, err = bidi(ctx, conn, c, opts)
	} else if c.Stream {
		stream, err2 := conn.NewStream(ctx, &grpc.StreamDesc{StreamName: c.Method, ServerStreams: true}, c.Method, opts...)
		err = err2
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
				responses = append(responses, base64.StdEncoding.EncodeToString(out))
			}
		}
		if err == io.EOF {
			err = nil
		}
		if stream != nil {
			trailers = stream.Trailer()
		}
	} else {
		var out []byte
		err = conn.Invoke(ctx, c.Method, req, &out, append(opts, grpc.Trailer(&trailers))...)
		if err == nil {
			responses = append(responses, base64.StdEncoding.EncodeToString(out))
		}
	}
	ms := float64(time.Since(start).Microseconds()) / 1000
	st := status.Convert(err)
	if responses == nil {
		responses = []string{}
	}
	return result{Code: uint32(st.Code()), Message: st.Message(), Responses: responses, Ms: ms, Trailers: jsonMetadata(trailers)}
}

// bidi runs one bidirectional stream: every request, then the answers (see the header comment).
func bidi(ctx context.Context, conn *grpc.ClientConn, c call, opts []grpc.CallOption) (responses []string, trailers metadata.MD, err error) {
	responses = []string{}
	stream, err := conn.NewStream(ctx, &grpc.StreamDesc{StreamName: c.Method, ServerStreams: true, ClientStreams: true}, c.Method, opts...)
	if err != nil {
		return responses, nil, err
	}
	defer func() { trailers = stream.Trailer() }()
	for _, encoded := range c.Requests {
		msg, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil {
			return responses, nil, err
		}
		if err := stream.SendMsg(msg); err != nil {
			return responses, nil, err
		}
	}
	if c.CloseSendFirst {
		if err := stream.CloseSend(); err != nil {
			return responses, nil, err
		}
	}
	for {
		var out []byte
		err = stream.RecvMsg(&out)
		if err != nil {
			break
		}
		responses = append(responses, base64.StdEncoding.EncodeToString(out))
		if !c.CloseSendFirst && len(responses) == 1 {
			if err = stream.CloseSend(); err != nil {
				break
			}
		}
	}
	if err == io.EOF {
		err = nil
	}
	return responses, nil, err
}

func main() {
	sink := &logSink{}
	grpclog.SetLoggerV2(sink)
	encoding.RegisterCodec(rawCodec{name: "proto"})

	serveMode := len(os.Args) > 1 && os.Args[1] == "-serve"
	stdin := bufio.NewReaderSize(os.Stdin, 1<<20)
	decoder := json.NewDecoder(stdin)
	var in input
	if err := decoder.Decode(&in); err != nil {
		fmt.Fprintln(os.Stderr, "bad input:", err)
		os.Exit(2)
	}
	if in.KeepaliveSec <= 0 {
		in.KeepaliveSec = 10
	}
	if in.ServiceConfig == "" {
		in.ServiceConfig = `{"loadBalancingConfig":[{"round_robin":{}}]}`
	}
	conn, err := grpc.Dial(in.Target,
		grpc.WithInsecure(),
		grpc.WithDefaultServiceConfig(in.ServiceConfig),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:                time.Duration(in.KeepaliveSec) * time.Second,
			Timeout:             10 * time.Second,
			PermitWithoutStream: false,
		}),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		os.Exit(2)
	}

	if serveMode {
		serve(conn, decoder)
		conn.Close()
		return
	}

	// Record every connectivity state change of the channel (a GOAWAY shows up as READY -> IDLE/CONNECTING).
	var statesMu sync.Mutex
	states := []string{}
	done := make(chan struct{})
	go func() {
		state := conn.GetState()
		for {
			statesMu.Lock()
			states = append(states, state.String())
			statesMu.Unlock()
			if state == connectivity.Shutdown {
				return
			}
			ctx, cancel := context.WithCancel(context.Background())
			go func() { <-done; cancel() }()
			if !conn.WaitForStateChange(ctx, state) {
				cancel()
				return
			}
			cancel()
			state = conn.GetState()
		}
	}()

	results := make([]result, 0, len(in.Calls))
	for _, c := range in.Calls {
		n := c.Parallel
		if n <= 1 {
			results = append(results, run(context.Background(), conn, c))
			continue
		}
		all := make([]result, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) { defer wg.Done(); all[i] = run(context.Background(), conn, c) }(i)
		}
		wg.Wait()
		first := all[0]
		first.All = all
		results = append(results, first)
	}
	close(done)
	time.Sleep(10 * time.Millisecond)
	statesMu.Lock()
	out := map[string]interface{}{"results": results, "states": append([]string{}, states...), "logs": sink.snapshot()}
	statesMu.Unlock()
	conn.Close()
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "encode:", err)
		os.Exit(2)
	}
}

type command struct {
	ID     uint64 `json:"id"`
	Call   *call  `json:"call"`
	Cancel bool   `json:"cancel"`
}

type answer struct {
	ID     uint64 `json:"id"`
	Result result `json:"result"`
}

// serve runs -serve mode: every call line concurrently on the one channel, until stdin ends.
func serve(conn *grpc.ClientConn, commands *json.Decoder) {
	var outMu sync.Mutex
	out := json.NewEncoder(os.Stdout)
	var cancelsMu sync.Mutex
	cancels := map[uint64]context.CancelFunc{}
	var running sync.WaitGroup
	for {
		var cmd command
		if err := commands.Decode(&cmd); err != nil {
			if err != io.EOF {
				fmt.Fprintln(os.Stderr, "bad command:", err)
			}
			break
		}
		if cmd.Cancel {
			cancelsMu.Lock()
			cancel := cancels[cmd.ID]
			cancelsMu.Unlock()
			if cancel != nil {
				cancel()
			}
			continue
		}
		if cmd.Call == nil {
			fmt.Fprintln(os.Stderr, "bad command: neither call nor cancel")
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancelsMu.Lock()
		cancels[cmd.ID] = cancel
		cancelsMu.Unlock()
		running.Add(1)
		go func(id uint64, c call) {
			defer running.Done()
			r := run(ctx, conn, c)
			cancelsMu.Lock()
			delete(cancels, id)
			cancelsMu.Unlock()
			cancel()
			outMu.Lock()
			defer outMu.Unlock()
			if err := out.Encode(answer{ID: id, Result: r}); err != nil {
				fmt.Fprintln(os.Stderr, "encode:", err)
			}
		}(cmd.ID, *cmd.Call)
	}
	// stdin closed: cancel what is still running (its caller has gone) and let each answer.
	cancelsMu.Lock()
	for _, cancel := range cancels {
		cancel()
	}
	cancelsMu.Unlock()
	running.Wait()
}

// jsonMetadata copies md with every "-bin" value base64-encoded (JSON strings cannot carry arbitrary bytes).
func jsonMetadata(md metadata.MD) map[string][]string {
	if len(md) == 0 {
		return nil
	}
	out := make(map[string][]string, len(md))
	for key, values := range md {
		copied := make([]string, len(values))
		for i, value := range values {
			if strings.HasSuffix(key, "-bin") {
				value = base64.StdEncoding.EncodeToString([]byte(value))
			}
			copied[i] = value
		}
		out[key] = copied
	}
	return out
}
