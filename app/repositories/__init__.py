"""Every query lives here; partner scoping is applied here, never after the fact."""
