package bff

import "github.com/gofiber/fiber/v2"

// enrollmentRoutes registers the new-device resource (/v1/enrollments...).
func (s *Server) enrollmentRoutes(v1 fiber.Router) {}

// enrollmentAdminRoutes registers the operator's enrollment calls on the
// admin listener (behind the admin token).
func (s *Server) enrollmentAdminRoutes(ops fiber.Router) {}
