# Region and credentials come from the environment (AWS_REGION / AWS_PROFILE, or
# AWS_ENDPOINT_URL for the local moto server of the end-to-end test).
provider "aws" {
  region = var.aws_region

  default_tags {
    tags = merge({ "tenant-authorizer:managed-by" = "terraform" }, var.tags)
  }
}
