package deployversion

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// ECS is what the ECS task metadata endpoint v4 says about the version
// of the running task.
type ECS struct {
	// TaskDefinition is "family:revision", from Family and Revision of
	// the task response (${ECS_CONTAINER_METADATA_URI_V4}/task); empty
	// when either is missing.
	TaskDefinition string
	// ImageTag is the tag of the calling container's Image, from the
	// container response (${ECS_CONTAINER_METADATA_URI_V4}); empty when
	// the image is named by digest only or has no tag.
	ImageTag string
}

// Version returns the task definition revision, else a release-naming
// image tag (not "latest"), else the zero Version.
func (e ECS) Version() Version {
	if v := newVersion(e.TaskDefinition, SourceECSTaskDefinition); v.Known() {
		return v
	}
	if e.ImageTag != "latest" {
		return newVersion(e.ImageTag, SourceECSImageTag)
	}
	return Version{}
}

// ParseECS reads the task and container metadata documents. Either may
// be nil (not fetched); a document that is not a JSON object is an error.
func ParseECS(task, container []byte) (ECS, error) {
	var e ECS
	if task != nil {
		var t struct {
			Family   string `json:"Family"`
			Revision string `json:"Revision"`
		}
		if err := json.Unmarshal(task, &t); err != nil {
			return ECS{}, fmt.Errorf("deployversion: ECS task metadata: %w", err)
		}
		if f, r := strings.TrimSpace(t.Family), strings.TrimSpace(t.Revision); f != "" && r != "" {
			e.TaskDefinition = f + ":" + r
		}
	}
	if container != nil {
		var c struct {
			Image string `json:"Image"`
		}
		if err := json.Unmarshal(container, &c); err != nil {
			return ECS{}, fmt.Errorf("deployversion: ECS container metadata: %w", err)
		}
		e.ImageTag = ImageTag(c.Image)
	}
	return e, nil
}

// ImageTag returns the tag of an image reference such as
// "111122223333.dkr.ecr.us-west-2.amazonaws.com/orders:1.4.2" or
// "registry:5000/orders:v2@sha256:…": the text after the last ':' of the
// last path element, with any digest removed first. It returns "" when
// the reference has no tag.
func ImageTag(image string) string {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	last := image[strings.LastIndexByte(image, '/')+1:]
	if i := strings.LastIndexByte(last, ':'); i >= 0 {
		return last[i+1:]
	}
	return ""
}

// DefaultMetadataTimeout bounds each metadata request when FetchECS is
// given no client.
const DefaultMetadataTimeout = 2 * time.Second

// maxMetadataBytes bounds each metadata response read.
const maxMetadataBytes = 1 << 20

// FetchECS GETs base+"/task" and base (the value of
// ECS_CONTAINER_METADATA_URI_V4) with client (when nil, a client that
// gives up after DefaultMetadataTimeout, so that a silent endpoint cannot
// hang the caller) and parses them. A failed container request still returns the
// task definition; a failed task request is an error.
func FetchECS(ctx context.Context, client *http.Client, base string) (ECS, error) {
	if client == nil {
		client = &http.Client{Timeout: DefaultMetadataTimeout}
	}
	base = strings.TrimRight(base, "/")
	task, err := getMetadata(ctx, client, base+"/task")
	if err != nil {
		return ECS{}, err
	}
	container, cerr := getMetadata(ctx, client, base)
	e, err := ParseECS(task, container)
	if err != nil {
		return ECS{}, err
	}
	return e, cerr
}

func getMetadata(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("deployversion: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("deployversion: ECS metadata: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("deployversion: ECS metadata %s answered %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes))
	if err != nil {
		return nil, fmt.Errorf("deployversion: reading ECS metadata %s: %w", url, err)
	}
	return b, nil
}
