"""``propolis check``: facts of Kubernetes manifests and Dockerfiles for the policy decision points."""
