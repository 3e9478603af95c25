"""Admission domain: Kubernetes manifests read into objects and AdmissionReview inputs (no I/O)."""
