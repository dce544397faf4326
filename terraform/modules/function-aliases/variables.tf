variable "function_name" {
  description = "Name of the shared authorizer function."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be a Lambda function name (1-64 letters, digits, '-' or '_'), not an ARN."
  }
}

variable "initial_version" {
  description = "Published version a new alias points at; existing aliases keep theirs (tenant-authz release moves them)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+$", var.initial_version))
    error_message = "initial_version must be a published version number (aliases never point at $LATEST)."
  }
}

variable "alias_count" {
  description = "Aliases to keep: each holds the invoke permissions of about 50 accounts within Lambda's 20 KB policy limit. Only ever raise it: removing an alias removes the ARN its accounts' authorizers use."
  type        = number
  default     = 256

  validation {
    condition     = var.alias_count >= 1 && var.alias_count <= 1000 && floor(var.alias_count) == var.alias_count
    error_message = "alias_count must be a whole number from 1 to 1000."
  }
}
