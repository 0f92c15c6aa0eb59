package emf

import "errors"

// Errors returned by the Logger and the sinks, wrapped with the offending
// name. Test for them with errors.Is.
var (
	// ErrInvalidName: a namespace, metric, dimension or property name that
	// is empty, too long, blank, reserved or outside the allowed characters.
	ErrInvalidName = errors.New("emf: invalid name")
	// ErrInvalidUnit: not one of the 27 CloudWatch units.
	ErrInvalidUnit = errors.New("emf: invalid unit")
	// ErrInvalidResolution: a storage resolution other than 1 or 60.
	ErrInvalidResolution = errors.New("emf: invalid storage resolution")
	// ErrInvalidValue: NaN or ±Inf, which JSON cannot carry.
	ErrInvalidValue = errors.New("emf: metric value is not finite")
	// ErrInvalidDimension: an empty, blank, non-ASCII or too long dimension
	// value. (Other libraries silently drop every dimension in this case.)
	ErrInvalidDimension = errors.New("emf: invalid dimension value")
	// ErrTooManyDimensions: more than 30 dimensions in one set, counting the
	// default dimensions.
	ErrTooManyDimensions = errors.New("emf: more than 30 dimensions in a set")
	// ErrConflict: the same root key used for two different things (a metric
	// and a property, one dimension with two values, one metric with two
	// units or resolutions).
	ErrConflict = errors.New("emf: conflicting key")
	// ErrClosed: the sink or logger was shut down.
	ErrClosed = errors.New("emf: closed")
	// ErrTooLarge: a document larger than the transport can carry.
	ErrTooLarge = errors.New("emf: document too large")
)
