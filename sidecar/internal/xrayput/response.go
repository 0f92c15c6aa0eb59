package xrayput

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/restjson"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/aws/aws-sdk-go-v2/service/xray/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// readResponse turns an answer into the SDK client's result: the output
// of a 2xx, or the error of anything else, wrapped with the status and
// request ID as the SDK wraps them.
func readResponse(resp *http.Response) (*xray.PutTraceSegmentsOutput, error) {
	raw, readErr := io.ReadAll(resp.Body)
	var out *xray.PutTraceSegmentsOutput
	var err error
	switch {
	case resp.StatusCode < 200 || resp.StatusCode >= 300:
		if readErr != nil {
			err = &smithy.DeserializationError{Err: fmt.Errorf("failed to copy error response body, %w", readErr)}
		} else {
			err = decodeError(resp.Header, raw)
		}
	case readErr != nil:
		err = &smithy.DeserializationError{Err: fmt.Errorf("failed to decode response body, %w", readErr), Snapshot: snapshot(raw)}
	default:
		out, err = DecodeOutput(raw)
	}
	if err != nil {
		return nil, &awshttp.ResponseError{
			ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: resp}, Err: err},
			RequestID:     requestID(resp.Header),
		}
	}
	return out, nil
}

func requestID(h http.Header) string {
	if v := h.Get("X-Amzn-Requestid"); v != "" {
		return v
	}
	return h.Get("X-Amz-RequestId")
}

// snapshot is the end of a body that did not decode, as the SDK keeps it
// in a DeserializationError (up to 1 KB).
func snapshot(raw []byte) []byte {
	return bytes.Clone(raw[max(0, len(raw)-1024):])
}

// nothingUnprocessed is X-Ray's usual answer.
const nothingUnprocessed = `{"UnprocessedTraceSegments":[]}`

// DecodeOutput decodes the body of a successful PutTraceSegments answer
// as the SDK's client does: the first JSON value of raw (none at all is
// an empty output), an object whose UnprocessedTraceSegments, when not
// null, is a list of objects (or nulls) with string (or null) ErrorCode,
// Id and Message; other members are ignored, member names match exactly.
// Anything else is a *smithy.DeserializationError. X-Ray's usual answer,
// nothing unprocessed, is recognised without decoding.
func DecodeOutput(raw []byte) (*xray.PutTraceSegmentsOutput, error) {
	if rest, ok := bytes.CutPrefix(raw, []byte(nothingUnprocessed)); ok && len(bytes.TrimLeft(rest, " \t\r\n")) == 0 {
		return &xray.PutTraceSegmentsOutput{UnprocessedTraceSegments: []types.UnprocessedTraceSegment{}}, nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil && err != io.EOF {
		return nil, &smithy.DeserializationError{Err: fmt.Errorf("failed to decode response body, %w", err), Snapshot: snapshot(raw)}
	}
	out := &xray.PutTraceSegmentsOutput{}
	if err := fillOutput(out, v); err != nil {
		return nil, &smithy.DeserializationError{Err: fmt.Errorf("failed to decode response body with invalid JSON, %w", err), Snapshot: snapshot(raw)}
	}
	return out, nil
}

func fillOutput(out *xray.PutTraceSegmentsOutput, v any) error {
	if v == nil {
		return nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("unexpected JSON type %v", v)
	}
	list, present := obj["UnprocessedTraceSegments"]
	if !present || list == nil {
		return nil
	}
	items, ok := list.([]any)
	if !ok {
		return fmt.Errorf("unexpected JSON type %v", list)
	}
	out.UnprocessedTraceSegments = make([]types.UnprocessedTraceSegment, 0, len(items))
	for _, it := range items {
		var u types.UnprocessedTraceSegment
		if it != nil {
			m, ok := it.(map[string]any)
			if !ok {
				return fmt.Errorf("unexpected JSON type %v", it)
			}
			for _, f := range [...]struct {
				name string
				dst  **string
			}{{"ErrorCode", &u.ErrorCode}, {"Id", &u.Id}, {"Message", &u.Message}} {
				fv, present := m[f.name]
				if !present || fv == nil {
					continue
				}
				s, ok := fv.(string)
				if !ok {
					return fmt.Errorf("expected String to be of type string, got %T instead", fv)
				}
				*f.dst = &s
			}
		}
		out.UnprocessedTraceSegments = append(out.UnprocessedTraceSegments, u)
	}
	return nil
}

// decodeError is the error of a non-2xx answer, as the SDK's client makes
// it: the code from the X-Amzn-ErrorType header, else from the body's
// code or __type member; ThrottledException and InvalidRequestException
// (compared without case) as their types, anything else a
// smithy.GenericAPIError; a body that is not JSON a DeserializationError.
func decodeError(h http.Header, raw []byte) error {
	code, msg := "UnknownError", "UnknownError"
	header := h.Get("X-Amzn-ErrorType")
	if header != "" {
		code = restjson.SanitizeErrorCode(header)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	bodyCode, message, err := restjson.GetErrorInfo(dec)
	if err != nil {
		return &smithy.DeserializationError{Err: fmt.Errorf("failed to decode response body, %w", err), Snapshot: snapshot(raw)}
	}
	if header == "" && bodyCode != "" {
		code = restjson.SanitizeErrorCode(bodyCode)
	}
	if message != "" {
		msg = message
	}
	switch {
	case strings.EqualFold(code, "InvalidRequestException"):
		m, err := exceptionMessage(raw)
		if err != nil {
			return err
		}
		return &types.InvalidRequestException{Message: m}
	case strings.EqualFold(code, "ThrottledException"):
		m, err := exceptionMessage(raw)
		if err != nil {
			return err
		}
		return &types.ThrottledException{Message: m}
	}
	return &smithy.GenericAPIError{Code: code, Message: msg}
}

// exceptionMessage is the message or Message member of a modelled
// exception's body (nil when absent or null).
func exceptionMessage(raw []byte) (*string, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil && err != io.EOF {
		return nil, &smithy.DeserializationError{Err: fmt.Errorf("failed to decode response body, %w", err), Snapshot: snapshot(raw)}
	}
	if v == nil {
		return nil, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &smithy.DeserializationError{Err: fmt.Errorf("failed to decode response body, %w", fmt.Errorf("unexpected JSON type %v", v)), Snapshot: snapshot(raw)}
	}
	var msg *string
	for _, k := range [...]string{"Message", "message"} {
		mv, present := obj[k]
		if !present || mv == nil {
			continue
		}
		s, ok := mv.(string)
		if !ok {
			return nil, &smithy.DeserializationError{Err: fmt.Errorf("failed to decode response body, %w",
				fmt.Errorf("expected ErrorMessage to be of type string, got %T instead", mv)), Snapshot: snapshot(raw)}
		}
		msg = &s
	}
	return msg, nil
}
