//! Registry client (OCI distribution spec). See the module docs once written.
