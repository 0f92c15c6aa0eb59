package emfdoc

// Work reports the work of the last Parse: index probes plus bytes of
// values decoded. Tests compare it at n and 4n to check linear cost.
func (p *Parser) Work() int { return p.work }
