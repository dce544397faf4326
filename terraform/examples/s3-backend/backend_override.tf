# Copy into terraform/platform/ and terraform/tenants/ (an *_override.tf file merges into
# the root), then `terraform init -backend-config=platform.s3.tfbackend` (or
# tenants.s3.tfbackend). Each tenants workspace (group-NN) gets its own state under
# workspace_key_prefix.
terraform {
  backend "s3" {}
}
