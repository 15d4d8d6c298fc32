package workspace

// DeferredSync is deferredSync.
var DeferredSync = deferredSync
