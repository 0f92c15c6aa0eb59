package xrayotel

import (
	"strings"

	"github.com/seed-c77c9410/sidelight/internal/jsonenc"
)

// httpBlock is the http block of a document.
type httpBlock struct {
	method, url, userAgent, clientIP string
	xff                              bool
	status, contentLength            int64
	hasStatus, hasLength             bool
}

func (d *docState) http() httpBlock {
	f := &d.f
	h := httpBlock{
		method:    f.str(kHTTPMethod, kHTTPMethodOld),
		url:       f.str(kURLFull, kHTTPURLOld),
		userAgent: f.str(kUserAgent, kUserAgentOld),
	}
	if h.url == "" && h.method != "" {
		h.url = d.buildURL()
	}
	if d.segment {
		if ip := f.str(kClientAddress); ip != "" {
			h.clientIP = ip
		} else if ip := f.str(kHTTPClientIPOld); ip != "" {
			h.clientIP, h.xff = ip, true
		} else {
			h.clientIP = f.str(kNetworkPeerAddress, kNetSockPeerAddrOld)
		}
	}
	h.status, h.hasStatus = f.int(kStatus, kStatusOld)
	h.contentLength, h.hasLength = f.int(kRespBodySize, kRespContentLengthOld)
	return h
}

// buildURL puts a server span's URL together from its parts when it has no
// url.full (current names) or http.url (old names).
func (d *docState) buildURL() string {
	f := &d.f
	path := f.peek(kURLPath)
	if path != "" {
		f.used[kURLPath] = true
		if q := f.str(kURLQuery); q != "" {
			path += "?" + q
		}
	} else if path = f.str(kHTTPTargetOld); path == "" {
		return ""
	}
	host := f.peek(kServerAddress, kHTTPHostOld, kNetHostNameOld)
	if host == "" {
		return path
	}
	if port := f.peek(kServerPort); port != "" && port != "80" && port != "443" && !strings.Contains(host, ":") {
		host += ":" + port
	}
	scheme := f.str(kURLScheme, kHTTPSchemeOld)
	if scheme == "" {
		scheme = "http"
	}
	return scheme + "://" + host + path
}

// flags derives error, throttle and fault from the HTTP status: 4xx is an
// error, 429 also a throttle, 5xx a fault.
func (h *httpBlock) flags() (isErr, throttle, fault bool) {
	if !h.hasStatus {
		return
	}
	switch s := h.status; {
	case s == 429:
		return true, true, false
	case s >= 400 && s < 500:
		return true, false, false
	case s >= 500 && s < 600:
		return false, false, true
	}
	return
}

func (h *httpBlock) append(dst []byte) []byte {
	hasReq := h.method != "" || h.url != "" || h.userAgent != "" || h.clientIP != ""
	hasResp := h.hasStatus || h.hasLength
	if !hasReq && !hasResp {
		return dst
	}
	dst = append(dst, `,"http":{`...)
	if hasReq {
		dst = append(dst, `"request":{`...)
		comma := false
		dst = appendField(dst, "method", h.method, maxHTTPFieldLength, &comma)
		dst = appendField(dst, "url", h.url, maxHTTPFieldLength, &comma)
		dst = appendField(dst, "user_agent", h.userAgent, maxHTTPFieldLength, &comma)
		dst = appendField(dst, "client_ip", h.clientIP, maxHTTPFieldLength, &comma)
		if h.xff {
			dst = append(dst, `,"x_forwarded_for":true`...)
		}
		dst = append(dst, '}')
	}
	if hasResp {
		if hasReq {
			dst = append(dst, ',')
		}
		dst = append(dst, `"response":{`...)
		if h.hasStatus {
			dst = append(dst, `"status":`...)
			dst = jsonenc.AppendInt(dst, h.status)
		}
		if h.hasLength {
			if h.hasStatus {
				dst = append(dst, ',')
			}
			dst = append(dst, `"content_length":`...)
			dst = jsonenc.AppendInt(dst, h.contentLength)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}
