//! Examples live under `examples/examples/`; this library is empty on purpose.
