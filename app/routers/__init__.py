"""HTTP routers: parse, authorise, call a service, shape the response. No business rules."""
