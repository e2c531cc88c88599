package dev.baton.worker;

import com.fasterxml.jackson.databind.JavaType;
import dev.baton.json.BatonJson;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** Turns the {@link TaskHandler} methods of an object into registrations. */
final class AnnotatedHandlers {
    private AnnotatedHandlers() {}

    static List<HandlerRegistration> scan(Object target, int defaultConcurrency) {
        List<HandlerRegistration> found = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        // Walk declared methods up the hierarchy so non-public methods and classes work too.
        for (Class<?> type = target.getClass(); type != null && type != Object.class; type = type.getSuperclass()) {
            for (Method method : type.getDeclaredMethods()) {
                TaskHandler annotation = method.getAnnotation(TaskHandler.class);
                if (annotation == null || method.isBridge() || !seen.add(signature(method))) {
                    continue;
                }
                int concurrency = annotation.concurrency() > 0 ? annotation.concurrency() : defaultConcurrency;
                found.add(new HandlerRegistration(annotation.value(), concurrency, invoker(target, method)));
            }
        }
        if (found.isEmpty()) {
            throw new IllegalArgumentException(target.getClass().getName() + " has no @TaskHandler methods");
        }
        return found;
    }

    private static String signature(Method method) {
        StringBuilder s = new StringBuilder(method.getName());
        for (Class<?> p : method.getParameterTypes()) {
            s.append(',').append(p.getName());
        }
        return s.toString();
    }

    private static TaskInvoker invoker(Object target, Method method) {
        if (!method.trySetAccessible()) {
            throw new IllegalArgumentException("cannot call " + describe(method) + ": not accessible");
        }
        Type[] params = method.getGenericParameterTypes();
        int inputIndex = -1;
        for (int i = 0; i < params.length; i++) {
            if (params[i] == TaskContext.class) {
                continue;
            }
            if (inputIndex >= 0) {
                throw new IllegalArgumentException(
                        describe(method) + " takes more than one input parameter; take one (plus an optional TaskContext)");
            }
            inputIndex = i;
        }
        JavaType inputType = inputIndex >= 0 ? BatonJson.mapper().constructType(params[inputIndex]) : null;
        int input = inputIndex;
        return context -> {
            Object[] args = new Object[params.length];
            for (int i = 0; i < params.length; i++) {
                args[i] = i == input ? TaskInvoker.bind(context.inputJson(), inputType) : context;
            }
            try {
                return method.invoke(target, args);
            } catch (InvocationTargetException e) {
                // The handler's own exception, so TerminalException keeps its meaning.
                Throwable cause = e.getCause();
                if (cause instanceof Exception ex) {
                    throw ex;
                }
                if (cause instanceof Error err) {
                    throw err;
                }
                throw e;
            }
        };
    }

    private static String describe(Method method) {
        return method.getDeclaringClass().getSimpleName() + "." + method.getName();
    }
}
