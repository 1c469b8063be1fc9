// Package delta holds what a delta bundle is made against (bundle create --since): an earlier
// bundle or an inventory of the destination registry, and the inventory file's format. It reads
// bundles (internal/archive, internal/archive/parts) and inventory files; it knows nothing of
// registries: taking an inventory is push's (push.TakeInventory).
package delta
