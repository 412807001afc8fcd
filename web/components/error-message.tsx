/** An error said in place, announced at once (role=alert). Renders nothing without a message. */
export function ErrorMessage({ message, id }: { message: string | undefined; id?: string }) {
  if (!message) return null;
  return (
    <p role="alert" className="error" {...(id ? { id } : {})}>
      {message}
    </p>
  );
}
