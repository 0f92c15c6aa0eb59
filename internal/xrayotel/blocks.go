package xrayotel

import (
	"strings"

	"github.com/seed-c77c9410/sidelight/internal/jsonenc"
)

// isSQS reports whether a messaging.system value names Amazon SQS.
func isSQS(system string) bool {
	return system == "aws_sqs" || system == "aws.sqs" || system == "AmazonSQS"
}

// appendAWS appends the aws block: the call's operation, region, request
// ID, table and queue for AWS SDK and SQS messaging spans, and for
// segments where the service runs.
func (d *docState) appendAWS(dst []byte) []byte {
	f := &d.f
	mark := len(dst)
	dst = append(dst, `,"aws":{`...)
	comma := false
	if d.awsCall || isSQS(f.peek(kMessagingSystem)) {
		dst = appendField(dst, "operation", f.str(kAWSOperation, kRPCMethod), 0, &comma)
		dst = appendField(dst, "region", f.str(kAWSRegion), 0, &comma)
		dst = appendField(dst, "request_id", f.str(kAWSRequestID, kAWSRequestIDOld), 0, &comma)
		dst = appendField(dst, "table_name", f.str(kAWSTableName, kAWSDynamoTables), 0, &comma)
		dst = appendField(dst, "queue_url", f.str(kAWSQueueURL, kAWSQueueURLDotted, kMessagingURLOld), 0, &comma)
	}
	var ecs [2]int
	if d.segment {
		dst = d.rf.appendEnvironment(dst, &comma, &ecs)
	}
	if !comma {
		return dst[:mark]
	}
	dst = append(dst, '}')
	d.lay.AWS = [2]int{mark + len(`,"aws":`) - d.start, len(dst) - d.start}
	if ecs[1] > 0 {
		d.lay.ECS = [2]int{ecs[0] - d.start, ecs[1] - d.start}
	}
	return dst
}

// sqlSystems are the db.system values of SQL databases; other databases
// (DynamoDB, Redis, …) get no sql block.
var sqlSystems = map[string]bool{
	"mysql": true, "mariadb": true, "postgresql": true, "mssql": true, "microsoft.sql_server": true,
	"oracle": true, "oracle.db": true, "db2": true, "ibm.db2": true, "sqlite": true, "h2": true,
	"hsqldb": true, "derby": true, "cockroachdb": true, "redshift": true, "aws.redshift": true,
	"trino": true, "clickhouse": true, "spanner": true, "gcp.spanner": true, "other_sql": true,
}

// appendSQL appends the sql block for spans of a SQL database.
func (d *docState) appendSQL(dst []byte) []byte {
	f := &d.f
	system := f.peek(kDBSystemName, kDBSystem)
	if !sqlSystems[system] {
		return dst
	}
	f.str(kDBSystemName, kDBSystem)
	dst = append(dst, `,"sql":{"database_type":`...)
	dst = jsonenc.AppendString(dst, system)
	comma := true
	if conn := f.str(kDBConnectionOld); strings.Contains(conn, "://") {
		dst = appendField(dst, "url", stripUserinfo(conn), 0, &comma)
	} else {
		dst = appendField(dst, "connection_string", stripPassword(conn), 0, &comma)
	}
	dst = appendField(dst, "sanitized_query", f.str(kDBQueryText, kDBStatementOld), 0, &comma)
	dst = appendField(dst, "user", f.str(kDBUserOld), maxHTTPFieldLength, &comma)
	return append(dst, '}')
}

// stripUserinfo removes user:password@ from a connection URL, so a
// password never reaches X-Ray.
func stripUserinfo(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	at := strings.LastIndexByte(rest, '@')
	slash := strings.IndexByte(rest, '/')
	if at < 0 || (slash >= 0 && at > slash) {
		return s
	}
	return scheme + "://" + rest[at+1:]
}

// stripPassword removes Password= and Pwd= entries from a key=value;
// connection string (SQL Server, ODBC), as X-Ray asks.
func stripPassword(s string) string {
	if s == "" {
		return s
	}
	parts := strings.Split(s, ";")
	kept := parts[:0]
	for _, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "password", "pwd":
			continue
		}
		kept = append(kept, p)
	}
	return strings.Join(kept, ";")
}
