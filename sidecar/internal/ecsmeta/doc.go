// Package ecsmeta reads the ECS task metadata endpoint v4
// (ECS_CONTAINER_METADATA_URI_V4) and turns what it says about the task
// into X-Ray segment fields (aws.ecs) and optional metric dimensions.
package ecsmeta
