terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 7"
    }
  }
}

provider "aws" {}

variable "authorizer_function_arn" {
  description = "The alias-qualified ARN the platform team gave this account (their `terraform output tenants`)."
  type        = string
  default     = "arn:aws:lambda:us-east-1:999999999999:function:tenant-authorizer:shard-017"
}
